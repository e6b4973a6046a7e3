// The framed protocol between the station and flash-station-block-helper (the root helper that writes disks for a
// desktop user): pure encoders and an incremental decoder. The helper's side is src/drivers/block/helper/block-helper.c.
import { FlashError } from '../contracts/errors.js';

export const HELPER_MAGIC = 'FSBH';
export const HELPER_VERSION = 1;
/** Largest write or read in one request (the helper refuses more). */
export const HELPER_MAX_IO = 16 << 20;
/** Devices one helper serves at most (one batch). */
export const HELPER_MAX_DEVICES = 16;
export const REQUEST_HEADER = 24;
export const REPLY_HEADER = 12;

export type HelperOp = 'W' | 'R' | 'Z' | 'S' | 'P' | 'C';

export interface HelperRequest {
  op: HelperOp;
  device: number;
  id: number;
  offset: number;
  length: number;
}

export interface HelperDeviceHello {
  /** 0, or a negative errno: the helper could not open this device. */
  status: number;
  sectorSize: number;
  size: number;
}

export interface HelperReply {
  id: number;
  /** ≥ 0 (bytes read for R, 1/0 for P), or a negative errno. */
  result: number;
  data?: Buffer;
}

/** The 24-byte header of a request (a W request's data follows it). */
export function encodeRequest(r: HelperRequest): Buffer {
  if (r.device < 0 || r.device >= HELPER_MAX_DEVICES || !Number.isInteger(r.device)) throw new RangeError(`device index ${r.device}`);
  if (!Number.isSafeInteger(r.offset) || r.offset < 0 || !Number.isSafeInteger(r.length) || r.length < 0) throw new RangeError('offset and length must be non-negative integers');
  if ((r.op === 'W' || r.op === 'R') && r.length > HELPER_MAX_IO) throw new RangeError(`a ${r.op} request carries at most ${HELPER_MAX_IO} bytes`);
  const b = Buffer.alloc(REQUEST_HEADER);
  b[0] = r.op.charCodeAt(0);
  b[1] = r.device;
  b.writeUInt32LE(r.id >>> 0, 4);
  b.writeBigUInt64LE(BigInt(r.offset), 8);
  b.writeBigUInt64LE(BigInt(r.length), 16);
  return b;
}

/** Read a request header back (the helper's view; used by tests and by a fake helper). */
export function decodeRequest(b: Buffer): HelperRequest {
  const op = String.fromCharCode(b[0] ?? 0);
  if (!'WRZSPC'.includes(op) || op === '') throw new FlashError('internal', `unknown helper request ${JSON.stringify(op)}`);
  return { op: op as HelperOp, device: b[1] ?? 0, id: b.readUInt32LE(4), offset: Number(b.readBigUInt64LE(8)), length: Number(b.readBigUInt64LE(16)) };
}

/** The helper's hello for these devices (tests and a fake helper). */
export function encodeHello(devices: readonly HelperDeviceHello[]): Buffer {
  const b = Buffer.alloc(6 + devices.length * 16);
  b.write(HELPER_MAGIC, 0, 'latin1');
  b[4] = HELPER_VERSION;
  b[5] = devices.length;
  devices.forEach((d, i) => {
    b.writeInt32LE(d.status, 6 + i * 16);
    b.writeUInt32LE(d.sectorSize, 10 + i * 16);
    b.writeBigUInt64LE(BigInt(d.size), 14 + i * 16);
  });
  return b;
}

export function encodeReply(r: HelperReply): Buffer {
  const h = Buffer.alloc(REPLY_HEADER);
  h.writeUInt32LE(r.id >>> 0, 0);
  h.writeInt32LE(r.result, 4);
  h.writeUInt32LE(r.data?.length ?? 0, 8);
  return r.data?.length ? Buffer.concat([h, r.data]) : h;
}

/**
 * Splits what the helper writes to stdout into the hello and then replies, however the pipe cuts it. `expected` is
 * the number of devices the helper was given (its hello must list exactly those).
 */
export class HelperDecoder {
  private buf: Buffer = Buffer.alloc(0);
  private hello: HelperDeviceHello[] | undefined;

  constructor(private readonly expected: number) {}

  /** Feed bytes; returns the hello (once, when complete) and the complete replies. Throws on a malformed stream. */
  push(chunk: Buffer): { hello?: HelperDeviceHello[]; replies: HelperReply[] } {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: { hello?: HelperDeviceHello[]; replies: HelperReply[] } = { replies: [] };
    if (!this.hello) {
      if (this.buf.length < 6) return out;
      if (this.buf.toString('latin1', 0, 4) !== HELPER_MAGIC || this.buf[4] !== HELPER_VERSION) {
        throw new FlashError('internal', 'the block helper answered with something other than its hello (a different program or version?)');
      }
      const count = this.buf[5] ?? 0;
      if (count !== this.expected) throw new FlashError('internal', `the block helper opened ${count} devices, not ${this.expected}`);
      const len = 6 + count * 16;
      if (this.buf.length < len) return out;
      const hello: HelperDeviceHello[] = [];
      for (let i = 0; i < count; i++) {
        const at = 6 + i * 16;
        hello.push({ status: this.buf.readInt32LE(at), sectorSize: this.buf.readUInt32LE(at + 4), size: Number(this.buf.readBigUInt64LE(at + 8)) });
      }
      this.hello = hello;
      out.hello = hello;
      this.buf = this.buf.subarray(len);
    }
    while (this.buf.length >= REPLY_HEADER) {
      const n = this.buf.readUInt32LE(8);
      if (n > HELPER_MAX_IO) throw new FlashError('internal', `the block helper sent a reply of ${n} bytes (at most ${HELPER_MAX_IO})`);
      if (this.buf.length < REPLY_HEADER + n) break;
      const reply: HelperReply = { id: this.buf.readUInt32LE(0), result: this.buf.readInt32LE(4) };
      if (n > 0) reply.data = Buffer.from(this.buf.subarray(REPLY_HEADER, REPLY_HEADER + n));
      out.replies.push(reply);
      this.buf = this.buf.subarray(REPLY_HEADER + n);
    }
    return out;
  }
}
