// Fastboot-over-UDP packets: a 4-byte header (id, flags, big-endian sequence) and payload (pure functions).

export const UDP_HEADER_LENGTH = 4;
export const UDP_PROTOCOL_VERSION = 1;
/** What the host offers; the device answers with its own limit and both use the smaller. */
export const UDP_HOST_MAX_PACKET = 8192;
/** Devices must accept at least this. */
export const UDP_MIN_PACKET = 512;

export const UdpId = { error: 0, query: 1, init: 2, fastboot: 3 } as const;
export type UdpIdValue = (typeof UdpId)[keyof typeof UdpId];
export const FLAG_CONTINUATION = 0x01;

export interface UdpPacket {
  id: number;
  flags: number;
  seq: number;
  payload: Uint8Array;
}

export function encodePacket(id: number, flags: number, seq: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(UDP_HEADER_LENGTH + payload.length);
  out[0] = id & 0xff;
  out[1] = flags & 0xff;
  out[2] = (seq >> 8) & 0xff;
  out[3] = seq & 0xff;
  out.set(payload, UDP_HEADER_LENGTH);
  return out;
}

/** Undefined when shorter than a header. */
export function decodePacket(bytes: Uint8Array): UdpPacket | undefined {
  if (bytes.length < UDP_HEADER_LENGTH) return undefined;
  return {
    id: bytes[0] ?? 0,
    flags: bytes[1] ?? 0,
    seq: ((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0),
    payload: bytes.subarray(UDP_HEADER_LENGTH),
  };
}

/** Splits a message into packet payloads of at most `maxData` bytes; an empty message is one empty packet. */
export function splitMessage(data: Uint8Array, maxData: number): Array<{ payload: Uint8Array; continuation: boolean }> {
  if (maxData < 1) throw new RangeError('maxData must be at least 1');
  const out: Array<{ payload: Uint8Array; continuation: boolean }> = [];
  let off = 0;
  do {
    const end = Math.min(data.length, off + maxData);
    out.push({ payload: data.subarray(off, end), continuation: end < data.length });
    off = end;
  } while (off < data.length);
  return out;
}

/** A response answers a request when the sequence matches and the id is the same or an error. */
export function answers(request: { id: number; seq: number }, response: UdpPacket): boolean {
  return response.seq === (request.seq & 0xffff) && (response.id === request.id || response.id === UdpId.error);
}

export function encodeInit(version = UDP_PROTOCOL_VERSION, maxPacket = UDP_HOST_MAX_PACKET): Uint8Array {
  return new Uint8Array([(version >> 8) & 0xff, version & 0xff, (maxPacket >> 8) & 0xff, maxPacket & 0xff]);
}

export function readU16(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] ?? 0) << 8) | (bytes[offset + 1] ?? 0);
}
