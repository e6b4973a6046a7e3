// Write an image onto a disk: aligned buffers with several writes in flight, zeros by BLKZEROOUT, bmap skips left
// alone, the first MiB zeroed first and written last, per-region SHA-256 taken while writing (for the read-back).
import { createHash } from 'node:crypto';
import type { BlockIo } from '../../contracts/links.js';
import type { Chunk, BlockSource } from '../../contracts/source.js';
import type { JobContext } from '../../contracts/family.js';
import { FlashError, toFlashError } from '../../contracts/errors.js';

/** The first MiB (partition tables, boot sectors) is zeroed before anything else and written last. */
export const HEAD_BYTES = 1 << 20;
/** Bytes per write. */
export const WRITE_BYTES = 4 << 20;
/** Zero fills at least this long go to the device as BLKZEROOUT instead of written zeros. */
const ZERO_OUT_MIN = 1 << 20;

export interface WriteOptions {
  /** Writes in flight at once (default 4). */
  inFlight?: number;
  /** Attempts after a failed write before the job fails (default 3). */
  retries?: number;
  /** Base of the back-off between attempts, in ms (doubles each time; default 250). */
  retryDelayMs?: number;
  /** Whether the disk is still there (after a failed write): a gone disk fails as `disconnected` at once. */
  present?: () => Promise<boolean>;
}

/** What was written where, for the read-back: data regions with the SHA-256 of their bytes, zeroed regions. */
export interface Region {
  offset: number;
  length: number;
  /** Hex SHA-256 of the bytes written; absent for a zeroed region. */
  sha256?: string;
}

export interface WriteReport {
  regions: Region[];
  /** Image data bytes written (as counted for progress). */
  dataBytes: number;
  /** Bytes written as zeros or zeroed by the device. */
  zeroBytes: number;
  /** Bytes a bmap (or a sparse image) declared unmapped: left as they were. */
  skippedBytes: number;
  /** True once any byte of the disk changed (the head is zeroed first). */
  touched: boolean;
}

interface ZeroOut {
  zeroOut(offset: number, length: number, signal?: AbortSignal): Promise<boolean>;
}
const canZeroOut = (io: BlockIo): io is BlockIo & ZeroOut => typeof (io as Partial<ZeroOut>).zeroOut === 'function';

const roundUp = (n: number, m: number): number => Math.ceil(n / m) * m;
const roundDown = (n: number, m: number): number => Math.floor(n / m) * m;
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Pending {
  buf: Uint8Array;
  start: number;
  len: number;
  /** Image data bytes in it (progress). */
  data: number;
}

/** One image onto one open disk. Throws FlashError; `report` tells what was done so far (for a cancel's message). */
export class DiskWriter {
  readonly report: WriteReport = { regions: [], dataBytes: 0, zeroBytes: 0, skippedBytes: 0, touched: false };
  private readonly sector: number;
  private readonly headLen: number;
  private readonly head: Uint8Array;
  private headData = 0;
  private readonly free: Uint8Array[] = [];
  private allocated = 0;
  private cur: Pending | null = null;
  private zeroRun: { start: number; end: number } | null = null;
  private readonly inflight = new Set<Promise<void>>();
  private failure: Error | null = null;
  private zeroOutWorks: boolean;
  private zeros: Uint8Array | null = null;
  private readonly o: Required<Omit<WriteOptions, 'present'>> & Pick<WriteOptions, 'present'>;

  constructor(
    private readonly io: BlockIo,
    private readonly source: BlockSource,
    private readonly ctx: JobContext,
    options: WriteOptions = {},
  ) {
    this.o = { inFlight: 4, retries: 3, retryDelayMs: 250, ...options };
    this.sector = io.sectorSize;
    this.headLen = Math.min(HEAD_BYTES, roundUp(source.size, this.sector));
    this.head = io.alloc(this.headLen);
    this.head.fill(0);
    this.zeroOutWorks = canZeroOut(io);
  }

  /** Everything: zero the head, stream the chunks, flush, then the head, each time with fsync between. */
  async run(): Promise<WriteReport> {
    const { signal } = this.ctx;
    signal.throwIfAborted();
    this.report.touched = true;
    await this.writeWithRetries(0, this.head); // (all zeros now: a half-written card holds no stale partition table)
    // Lent chunks (no copy out of the decoder's buffers) where the source offers them: every byte is copied into
    // the write buffers before the next chunk is asked for. A shared (decode-once) view has only owned chunks.
    const lent = (this.source as BlockSource & { lentChunks?: (s?: AbortSignal) => AsyncIterable<Chunk> }).lentChunks;
    const chunks = typeof lent === 'function' ? lent.call(this.source, signal) : this.source.chunks(signal);
    for await (const c of chunks) {
      if (this.failure) break;
      // Zero fills come in pieces (one per decoded slice): gather a run of them, then zero it in one go.
      if (c.kind === 'fill' && c.value === 0 && c.offset >= this.headLen) {
        if (this.zeroRun && this.zeroRun.end === c.offset) this.zeroRun.end += c.length;
        else {
          await this.endZeroRun();
          this.zeroRun = { start: c.offset, end: c.offset + c.length };
        }
        continue;
      }
      await this.endZeroRun();
      await this.place(c);
    }
    await this.endZeroRun();
    await this.flush();
    await Promise.all(this.inflight);
    if (this.failure) throw this.failure;
    signal.throwIfAborted();
    await this.io.sync();
    await this.ctx.gate.pass(signal);
    await this.ctx.throttle.take(this.headData, signal);
    await this.writeWithRetries(0, this.head);
    this.ctx.moved(this.headData);
    this.report.dataBytes += this.headData;
    this.report.regions.unshift({ offset: 0, length: this.headLen, sha256: sha(this.head) });
    await this.io.sync();
    return this.report;
  }

  /** Wait for writes in flight (after a failure or cancel) so nothing writes once the disk is closed. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.inflight]);
  }

  private async endZeroRun(): Promise<void> {
    const run = this.zeroRun;
    this.zeroRun = null;
    if (run) await this.place({ kind: 'fill', offset: run.start, length: run.end - run.start, value: 0 });
  }

  private async place(c: Chunk): Promise<void> {
    const length = c.kind === 'data' ? c.bytes.length : c.length;
    let at = c.offset;
    const end = c.offset + length;
    // The head part: kept in memory (skips and zeros are already zeros there).
    if (at < this.headLen) {
      const n = Math.min(end, this.headLen) - at;
      if (c.kind === 'data') {
        this.head.set(c.bytes.subarray(0, n), at);
        this.headData += n;
      } else if (c.kind === 'fill' && c.value !== 0) {
        fillPattern(this.head, at, at + n, c.value, c.offset);
      }
      at += n;
      if (at >= end) return;
    }
    if (c.kind === 'skip') {
      await this.flush();
      this.report.skippedBytes += end - at;
      return;
    }
    if (c.kind === 'data') {
      await this.append(at, end, (buf, from, to, pos) => buf.set(c.bytes.subarray(pos - c.offset, pos - c.offset + (to - from)), from), true);
      return;
    }
    if (c.value === 0 && end - at >= ZERO_OUT_MIN) {
      const ms = roundUp(at, this.sector);
      const me = roundDown(end, this.sector);
      if (ms > at) await this.append(at, ms, (buf, from, to) => buf.fill(0, from, to), false);
      await this.flush();
      await this.submitZero(ms, me - ms);
      if (end > me) await this.append(me, end, (buf, from, to) => buf.fill(0, from, to), false);
      this.report.zeroBytes += end - at;
      return;
    }
    const value = c.value;
    await this.append(at, end, (buf, from, to, pos) => fillPattern(buf, from, to, value, c.offset, pos), false);
  }

  /** Put image bytes [at, end) into the pending buffer through `put(buf, from, to, imagePos)`, writing full buffers. */
  private async append(at: number, end: number, put: (buf: Uint8Array, from: number, to: number, pos: number) => void, data: boolean): Promise<void> {
    let pos = at;
    while (pos < end) {
      if (this.cur && this.cur.start + this.cur.len !== pos) await this.flush();
      if (!this.cur) {
        const start = roundDown(pos, this.sector);
        this.cur = { buf: await this.takeBuffer(), start, len: pos - start, data: 0 };
        // A write that starts inside a sector keeps the sector's bytes before it (read-modify-write; not in images
        // whose blocks are sector multiples, which is all of them in practice).
        if (pos > start) await this.readSector(start, this.cur.buf);
      }
      const cur = this.cur;
      const n = Math.min(end - pos, WRITE_BYTES - cur.len);
      put(cur.buf, cur.len, cur.len + n, pos);
      cur.len += n;
      if (data) cur.data += n;
      pos += n;
      if (cur.len === WRITE_BYTES) await this.flush();
    }
  }

  private async flush(): Promise<void> {
    const cur = this.cur;
    if (!cur || cur.len === 0) return;
    this.cur = null;
    const len = roundUp(cur.len, this.sector);
    if (len > cur.len) {
      // The image ends inside a sector: the rest of that sector keeps what the disk holds.
      const tail = this.io.alloc(this.sector);
      await this.readSector(cur.start + len - this.sector, tail);
      cur.buf.set(tail.subarray(cur.len - (len - this.sector)), cur.len);
    }
    const bytes = cur.buf.subarray(0, len);
    this.report.regions.push({ offset: cur.start, length: len, sha256: sha(bytes) });
    await this.submit(async () => {
      await this.writeWithRetries(cur.start, bytes);
      this.ctx.moved(cur.data);
      this.report.dataBytes += cur.data;
    }, cur.data, cur.buf);
  }

  private async submitZero(offset: number, length: number): Promise<void> {
    if (length <= 0) return;
    this.report.regions.push({ offset, length });
    await this.submit(async () => {
      if (this.zeroOutWorks && canZeroOut(this.io)) {
        if (await this.io.zeroOut(offset, length, this.ctx.signal).catch(() => false)) return;
        this.zeroOutWorks = false;
        this.ctx.log('info', 'The disk does not zero ranges itself (BLKZEROOUT): writing the zeros instead');
      }
      this.zeros ??= this.io.alloc(WRITE_BYTES).fill(0);
      const z = this.zeros;
      for (let at = offset; at < offset + length; at += WRITE_BYTES) {
        this.ctx.signal.throwIfAborted();
        await this.writeWithRetries(at, z.subarray(0, Math.min(WRITE_BYTES, offset + length - at)));
      }
    }, 0, null);
  }

  /** Start `op` once fewer than `inFlight` ops run and the gate is open; `buf` returns to the pool when it ends. */
  private async submit(op: () => Promise<void>, dataBytes: number, buf: Uint8Array | null): Promise<void> {
    while (this.inflight.size >= this.o.inFlight) await Promise.race(this.inflight);
    if (this.failure) throw this.failure;
    const { signal } = this.ctx;
    await this.ctx.gate.pass(signal);
    signal.throwIfAborted();
    if (dataBytes > 0) await this.ctx.throttle.take(dataBytes, signal);
    const p: Promise<void> = op().then(
      () => {
        if (buf) this.free.push(buf);
      },
      (e: unknown) => {
        this.failure ??= e instanceof Error ? e : new Error(String(e));
      },
    ).finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }

  private async takeBuffer(): Promise<Uint8Array> {
    for (;;) {
      const b = this.free.pop();
      if (b) return b;
      if (this.allocated < this.o.inFlight + 1) {
        this.allocated++;
        return this.io.alloc(WRITE_BYTES);
      }
      if (this.failure) throw this.failure;
      await Promise.race(this.inflight);
    }
  }

  private async readSector(offset: number, into: Uint8Array): Promise<void> {
    const s = into.length === this.sector ? into : into.subarray(0, this.sector);
    await this.io.read(offset, s, this.ctx.signal);
  }

  /** One write, retried a bounded number of times when the error may pass; a vanished disk fails at once. */
  private async writeWithRetries(offset: number, bytes: Uint8Array): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.io.write(offset, bytes, this.ctx.signal);
        return;
      } catch (e) {
        const err = toFlashError(e, 'device_error');
        if (this.ctx.signal.aborted) throw new FlashError('cancelled', 'Cancelled', { cause: e });
        const gone = this.o.present ? !(await this.o.present().catch(() => false)) : err.code === 'disconnected';
        if (gone) {
          throw new FlashError('disconnected',
            `${this.io.path} disappeared while writing at byte ${offset}: the card or stick was removed (or its reader lost power) — plug it in and flash again`,
            { cause: e, detail: `byte offset ${offset}`, transient: false });
        }
        if (!err.transient || attempt > this.o.retries) {
          throw new FlashError(err.code, `${err.message} (after ${attempt} attempt${attempt > 1 ? 's' : ''})`,
            { cause: e, detail: `byte offset ${offset}`, transient: false });
        }
        this.ctx.log('warn', `Write of ${bytes.length} bytes at byte ${offset} failed (${err.message}); retrying (${attempt}/${this.o.retries})`);
        await sleep(this.o.retryDelayMs * 2 ** (attempt - 1));
      }
    }
  }
}

/**
 * Fill buf[from, to) with the little-endian 32-bit word `value` repeating from image offset `fillStart`; `pos` is
 * the image offset of buf[from] (defaults to `from`, for the head whose buffer offsets are image offsets).
 */
export function fillPattern(buf: Uint8Array, from: number, to: number, value: number, fillStart: number, pos = from): void {
  const word = new Uint8Array(4);
  new DataView(word.buffer).setUint32(0, value >>> 0, true);
  const phase = (((pos - fillStart) % 4) + 4) % 4;
  const rotated = new Uint8Array([0, 1, 2, 3].map((k) => word[(phase + k) % 4] ?? 0));
  Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).fill(rotated, from, to);
}
