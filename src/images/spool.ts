// Spooling a compressed raw image whose expanded size its format does not record (bzip2, gzip past what ISIZE can
// say, zstd frames without a content size): decoded once into a sparse file in the station's spool folder, which
// proves the stream whole and gives the exact size (and the SHA-256) before any byte reaches a device. Every job of a
// batch then flashes that file, so the image is never decoded twice; the file goes when the batch ends.
import { createHash } from 'node:crypto';
import { mkdir, open, rename, rm, stat, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FlashError } from '../contracts/errors.js';
import { formatBytes } from '../protocol/units.js';
import type { ByteSource } from './byte-source.js';

/** Blocks of this many zero bytes are left as holes in the spool file (they cost no disk and read back as zeros). */
const HOLE_BLOCK = 64 << 10;
/** Writes are gathered into pieces of this size. */
const WRITE_BYTES = 4 << 20;
/** Free space the spool always leaves on its file system (the station's history lives there too). */
export const SPOOL_RESERVE_BYTES = 256 << 20;
/** How often (in bytes written) the free space is looked at again while spooling. */
const SPACE_CHECK_BYTES = 64 << 20;

export interface SpoolProgress {
  /** Expanded bytes decoded so far. */
  bytes: number;
  /** How far through its compressed input the decode is, 0–1, when that is known. */
  fraction?: number;
}

export interface SpoolOptions {
  signal?: AbortSignal;
  /** Called at most every `progressEveryBytes` (default 16 MiB) of decoded output, and once at the end. */
  onProgress?: (p: SpoolProgress) => void;
  progressEveryBytes?: number;
  /** Refuse to spool more than this many expanded bytes (the largest target it can go to). */
  maxBytes?: number;
  /** Compute the SHA-256 of the expanded stream on the way (default true). */
  hash?: boolean;
  /** Free space to leave on the spool's file system (default SPOOL_RESERVE_BYTES). */
  reserveBytes?: number;
  /** At least this much free space is needed to start (beyond the reserve): e.g. the compressed size. */
  expectBytes?: number;
  /** Compressed input read so far and its total, for `fraction` (the caller counts what the decoder reads). */
  input?: () => { read: number; of: number } | undefined;
}

export interface Spooled {
  /** Expanded size. */
  size: number;
  /** SHA-256 of the expanded stream (hex), unless hashing was off. */
  sha256?: string;
}

const ZERO_BLOCK = Buffer.alloc(HOLE_BLOCK);

/** True when a block (at most HOLE_BLOCK bytes) is all zeros: one memcmp. */
function isZero(b: Uint8Array): boolean {
  return Buffer.from(b.buffer, b.byteOffset, b.length).equals(b.length === HOLE_BLOCK ? ZERO_BLOCK : ZERO_BLOCK.subarray(0, b.length));
}

/** Free bytes for an unprivileged writer on the file system that holds `dir`, or undefined where it cannot be asked. */
export async function freeBytes(dir: string): Promise<number | undefined> {
  try {
    const s = await statfs(dir);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return undefined;
  }
}

/** Refuse to spool `what` when `dir` has less than `need` + `reserve` bytes free: before it starts, and as it grows. */
async function checkSpace(dir: string, what: string, need: number, reserve: number, written: number): Promise<void> {
  const free = await freeBytes(dir);
  if (free === undefined || free >= need + reserve) return;
  const where = written > 0 ? `after ${formatBytes(written)} of it` : 'before it starts';
  throw new FlashError(
    'image_too_large',
    `Not enough free disk space in ${dir} to decompress ${what} (${formatBytes(free)} free ${where}; the station keeps ` +
      `${formatBytes(reserve)} free for its history). Free some space there, or flash an .xz or .zst image: their size is known without decompressing.`,
  );
}

/**
 * Decode `source` into the sparse file `dest` (created, or replaced) and return the expanded size and hash. Zero
 * blocks become holes. On any failure (a truncated or corrupt stream, a full disk, a cancel) the file is removed and
 * the error says what went wrong; nothing has been written to a device.
 */
export async function spoolToFile(source: ByteSource, dest: string, options: SpoolOptions = {}): Promise<Spooled> {
  const dir = dirname(dest);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const reserve = options.reserveBytes ?? SPOOL_RESERVE_BYTES;
  await checkSpace(dir, source.description, options.expectBytes ?? 0, reserve, 0);
  const file = await open(dest, 'w', 0o600);
  const every = options.progressEveryBytes ?? 16 << 20;
  const hash = options.hash === false ? null : createHash('sha256');
  const report = (bytes: number): void => {
    const input = options.input?.();
    options.onProgress?.(input && input.of > 0 ? { bytes, fraction: Math.min(1, input.read / input.of) } : { bytes });
  };
  let offset = 0;
  let nextReport = every;
  let written = 0;
  let nextSpaceCheck = SPACE_CHECK_BYTES;
  let pending: Buffer = Buffer.allocUnsafe(WRITE_BYTES);
  let pendingLen = 0;
  let pendingAt = 0;
  const flush = async (): Promise<void> => {
    if (pendingLen === 0) return;
    if (written + pendingLen >= nextSpaceCheck) {
      nextSpaceCheck = written + pendingLen + SPACE_CHECK_BYTES;
      await checkSpace(dir, source.description, pendingLen, reserve, written);
    }
    await file.write(pending, 0, pendingLen, pendingAt);
    written += pendingLen;
    pendingLen = 0;
  };
  try {
    // Split the output into HOLE_BLOCK-aligned blocks: zero blocks are skipped, the rest gathered into one write.
    let carry: Buffer = Buffer.alloc(0);
    const take = async (block: Uint8Array, at: number): Promise<void> => {
      if (isZero(block)) {
        await flush();
        return;
      }
      if (pendingLen > 0 && pendingAt + pendingLen !== at) await flush();
      if (pendingLen + block.length > pending.length) await flush();
      if (pendingLen === 0) pendingAt = at;
      pending.set(block, pendingLen);
      pendingLen += block.length;
    };
    report(0);
    for await (const chunk of source.stream(options.signal)) {
      options.signal?.throwIfAborted();
      hash?.update(chunk);
      let data: Uint8Array = chunk;
      if (carry.length) {
        data = Buffer.concat([carry, chunk]);
        carry = Buffer.alloc(0);
      }
      let at = 0;
      while (data.length - at >= HOLE_BLOCK) {
        await take(data.subarray(at, at + HOLE_BLOCK), offset);
        offset += HOLE_BLOCK;
        at += HOLE_BLOCK;
      }
      if (at < data.length) carry = Buffer.from(data.subarray(at)); // the decoder's buffer is lent: copy the tail
      if (options.maxBytes !== undefined && offset + carry.length > options.maxBytes) {
        throw new FlashError('image_too_large', `${source.description} expands past ${formatBytes(options.maxBytes)}, more than the largest target it is meant for.`);
      }
      if (offset >= nextReport) {
        nextReport = offset + every;
        report(offset);
      }
    }
    if (carry.length) {
      await take(carry, offset);
      offset += carry.length;
    }
    await flush();
    await file.truncate(offset);
    await file.close();
    report(offset);
    return hash ? { size: offset, sha256: hash.digest('hex') } : { size: offset };
  } catch (e) {
    await file.close().catch(() => undefined);
    await rm(dest, { force: true });
    if (options.signal?.aborted) throw new FlashError('cancelled', 'Cancelled');
    if ((e as NodeJS.ErrnoException).code === 'ENOSPC') {
      throw new FlashError('image_too_large', `The disk holding ${dir} filled up while decompressing ${source.description}: free some space there and try again.`);
    }
    throw e;
  } finally {
    pending = Buffer.alloc(0);
  }
}

/** What one caller of `SpoolFile.fill` is told as the decode goes. */
export interface FillOptions extends Pick<SpoolOptions, 'onProgress'> {
  signal?: AbortSignal;
}

/** How to decode into the spool file: the stream, and the spoolToFile options that do not belong to one caller. */
export type SpoolMaker = (dest: string, options: { signal: AbortSignal; onProgress: (p: SpoolProgress) => void }) => Promise<Spooled>;

/**
 * One spool file, shared by every job of a batch: the first `fill` decodes, the others wait for the same decode (and
 * see its progress); once whole, `fill` returns at once. The decode stops only when every caller waiting for it has
 * been cancelled — one cancelled job of a batch does not take the others' image away — and a stopped or failed decode
 * leaves no file. `remove()` (when the batch ends) deletes it.
 */
export class SpoolFile {
  private done: Spooled | undefined;
  private running: Promise<Spooled> | undefined;
  private stop: AbortController | undefined;
  private readonly listeners = new Set<(p: SpoolProgress) => void>();
  private waiting = 0;
  private removed = false;
  private last: SpoolProgress | undefined;

  constructor(readonly path: string) {}

  /** The whole file: its size and hash, decoding it with `make` unless that was done already. */
  async fill(make: SpoolMaker, options: FillOptions = {}): Promise<Spooled> {
    if (this.done) return this.done;
    if (this.removed) throw new FlashError('cancelled', 'Cancelled: the batch this image was decoded for has ended');
    const { signal, onProgress } = options;
    signal?.throwIfAborted();
    // A decode every waiter has left is stopping: let it end, then start afresh for this caller.
    while (this.running && this.stop?.signal.aborted) {
      await this.running.catch(() => undefined);
      if (this.done) return this.done;
      if (this.removed) throw new FlashError('cancelled', 'Cancelled: the batch this image was decoded for has ended');
      signal?.throwIfAborted();
    }
    if (!this.running) {
      const stop = new AbortController();
      this.stop = stop;
      const partial = `${this.path}.partial`;
      this.running = make(partial, { signal: stop.signal, onProgress: (p) => this.progress(p) })
        .then(async (r) => {
          await rename(partial, this.path);
          if (this.removed) await rm(this.path, { force: true });
          this.done = r;
          return r;
        })
        .finally(() => {
          this.running = undefined;
          this.stop = undefined;
          this.last = undefined;
        });
      this.running.catch(() => undefined);
    }
    const running = this.running;
    if (onProgress) {
      this.listeners.add(onProgress);
      if (this.last) onProgress(this.last);
    }
    this.waiting++;
    let left = false;
    const leave = (): void => {
      if (left) return;
      left = true;
      this.waiting--;
      if (onProgress) this.listeners.delete(onProgress);
      if (this.waiting === 0 && this.running === running) this.stop?.abort(new FlashError('cancelled', 'Cancelled'));
    };
    try {
      if (!signal) return await running;
      return await new Promise<Spooled>((resolve, reject) => {
        const onAbort = (): void => {
          leave();
          reject(new FlashError('cancelled', 'Cancelled'));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        running.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
        if (signal.aborted) onAbort(); // (a listener may have cancelled on the progress replayed to it above)
      });
    } finally {
      leave();
    }
  }

  /** Delete the file (and stop a decode nobody needs any more). Idempotent. */
  async remove(): Promise<void> {
    this.removed = true;
    this.stop?.abort(new FlashError('cancelled', 'Cancelled'));
    await this.running?.catch(() => undefined);
    this.done = undefined;
    await rm(this.path, { force: true });
  }

  /** True while the file (complete) exists on disk. */
  async exists(): Promise<boolean> {
    return this.done !== undefined && (await stat(this.path).then((s) => s.isFile(), () => false));
  }

  private progress(p: SpoolProgress): void {
    this.last = p;
    for (const l of this.listeners) l(p);
  }
}
