// Fastboot-over-TCP wire format: the `FBnn` handshake and 8-byte big-endian length framing (pure functions).

export const TCP_PROTOCOL_VERSION = 1;
export const HANDSHAKE_LENGTH = 4;
export const FRAME_HEADER_LENGTH = 8;

/** `FB01` for version 1. */
export function encodeHandshake(version = TCP_PROTOCOL_VERSION): Uint8Array {
  if (!Number.isInteger(version) || version < 0 || version > 99) throw new RangeError(`version ${version} is not 0–99`);
  return new TextEncoder().encode(`FB${String(version).padStart(2, '0')}`);
}

/** The peer's version from its 4-byte handshake, or undefined when it is not `FB` + two decimal digits. */
export function parseHandshake(bytes: Uint8Array): number | undefined {
  if (bytes.length !== HANDSHAKE_LENGTH || bytes[0] !== 0x46 || bytes[1] !== 0x42) return undefined;
  const d1 = (bytes[2] ?? 0) - 0x30;
  const d2 = (bytes[3] ?? 0) - 0x30;
  if (d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return undefined;
  return d1 * 10 + d2;
}

/** The version both sides speak: the lower one. */
export function negotiateVersion(ours: number, theirs: number): number {
  return Math.min(ours, theirs);
}

export function encodeFrameHeader(length: number): Uint8Array {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`frame length ${length} is invalid`);
  const out = new Uint8Array(FRAME_HEADER_LENGTH);
  new DataView(out.buffer).setBigUint64(0, BigInt(length), false);
  return out;
}

export function decodeFrameHeader(bytes: Uint8Array, offset = 0): number {
  const v = new DataView(bytes.buffer, bytes.byteOffset + offset, FRAME_HEADER_LENGTH).getBigUint64(0, false);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`frame length ${v} is too large`);
  return Number(v);
}

/**
 * Turns a byte stream into messages. Bytes of a message are handed out as they arrive (`onData` may be called several
 * times per message, `onEnd` once when the message is complete), so a long upload never has to sit in one buffer.
 */
export class FrameDecoder {
  private header = new Uint8Array(FRAME_HEADER_LENGTH);
  private headerFill = 0;
  private remaining = -1;

  constructor(
    private readonly onData: (bytes: Uint8Array) => void,
    private readonly onEnd: () => void,
  ) {}

  push(chunk: Uint8Array): void {
    let off = 0;
    while (off < chunk.length || this.remaining === 0) {
      if (this.remaining === 0) {
        this.remaining = -1;
        this.onEnd();
        continue;
      }
      if (this.remaining < 0) {
        const take = Math.min(FRAME_HEADER_LENGTH - this.headerFill, chunk.length - off);
        this.header.set(chunk.subarray(off, off + take), this.headerFill);
        this.headerFill += take;
        off += take;
        if (this.headerFill === FRAME_HEADER_LENGTH) {
          this.headerFill = 0;
          this.remaining = decodeFrameHeader(this.header);
        }
        continue;
      }
      const take = Math.min(this.remaining, chunk.length - off);
      this.onData(chunk.subarray(off, off + take));
      this.remaining -= take;
      off += take;
    }
  }

  /** True when a message is only partly received. */
  get midMessage(): boolean {
    return this.remaining > 0 || this.headerFill > 0;
  }
}
