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
  data?: Uint8Array;
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
 * the number of devices the helper was given (its hello must list exactly those). A reply's data is copied straight
 * into the buffer `destination(id)` names (a read's own buffer), else into a new one: a 4 MiB read reply arrives in
 * 64 KiB pipe reads, and joining them would copy and allocate it over and over.
 */
export class HelperDecoder {
  private readonly head = Buffer.alloc(6 + HELPER_MAX_DEVICES * 16);
  private headLen = 0;
  private hello: HelperDeviceHello[] | undefined;
  /** The reply whose data is arriving. */
  private body: { reply: HelperReply; into: Uint8Array; got: number } | undefined;

  constructor(
    private readonly expected: number,
    private readonly destination: (id: number, length: number) => Uint8Array | undefined = () => undefined,
  ) {}

  /** Feed bytes; returns the hello (once, when complete) and the complete replies. Throws on a malformed stream. */
  push(chunk: Buffer): { hello?: HelperDeviceHello[]; replies: HelperReply[] } {
    const out: { hello?: HelperDeviceHello[]; replies: HelperReply[] } = { replies: [] };
    let at = 0;
    while (at < chunk.length) {
      if (this.body) {
        const b = this.body;
        const n = Math.min(b.into.length - b.got, chunk.length - at);
        b.into.set(chunk.subarray(at, at + n), b.got);
        b.got += n;
        at += n;
        if (b.got === b.into.length) {
          b.reply.data = b.into;
          out.replies.push(b.reply);
          this.body = undefined;
        }
        continue;
      }
      const need = this.hello ? REPLY_HEADER : this.headLen < 6 ? 6 : 6 + (this.head[5] ?? 0) * 16;
      const n = Math.min(need - this.headLen, chunk.length - at);
      chunk.copy(this.head, this.headLen, at, at + n);
      this.headLen += n;
      at += n;
      if (this.headLen < need) continue;
      if (!this.hello) {
        if (this.head.toString('latin1', 0, 4) !== HELPER_MAGIC || this.head[4] !== HELPER_VERSION) {
          throw new FlashError('internal', 'the block helper answered with something other than its hello (a different program or version?)');
        }
        const count = this.head[5] ?? 0;
        if (count !== this.expected) throw new FlashError('internal', `the block helper opened ${count} devices, not ${this.expected}`);
        if (need === 6 && count > 0) continue; // now the per-device part
        const hello: HelperDeviceHello[] = [];
        for (let i = 0; i < count; i++) {
          const o = 6 + i * 16;
          hello.push({ status: this.head.readInt32LE(o), sectorSize: this.head.readUInt32LE(o + 4), size: Number(this.head.readBigUInt64LE(o + 8)) });
        }
        this.hello = hello;
        out.hello = hello;
        this.headLen = 0;
        continue;
      }
      this.headLen = 0;
      const reply: HelperReply = { id: this.head.readUInt32LE(0), result: this.head.readInt32LE(4) };
      const size = this.head.readUInt32LE(8);
      if (size > HELPER_MAX_IO) throw new FlashError('internal', `the block helper sent a reply of ${size} bytes (at most ${HELPER_MAX_IO})`);
      if (size === 0) {
        out.replies.push(reply);
        continue;
      }
      const dest = this.destination(reply.id, size);
      this.body = { reply, into: dest && dest.length >= size ? dest.subarray(0, size) : Buffer.alloc(size), got: 0 };
    }
    return out;
  }
}
