// Spooling a compressed raw image whose expanded size its format does not record (bzip2, or gzip past what ISIZE
// can say): decoded once into a sparse file beside the station's data, which proves the stream whole and gives the
// exact size before any byte reaches a device; the job then flashes that file, so the image is never decoded twice.
import { mkdir, open, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FlashError } from '../contracts/errors.js';
import type { ByteSource } from './byte-source.js';

/** Blocks of this many zero bytes are left as holes in the spool file (they cost no disk and read back as zeros). */
const HOLE_BLOCK = 64 << 10;
/** Writes are gathered into pieces of this size. */
const WRITE_BYTES = 4 << 20;

export interface SpoolProgress {
  /** Expanded bytes decoded so far. */
  bytes: number;
}

export interface SpoolOptions {
  signal?: AbortSignal;
  /** Called at most every `progressEveryBytes` (default 16 MiB) of decoded output. */
  onProgress?: (p: SpoolProgress) => void;
  progressEveryBytes?: number;
  /** Refuse to spool more than this many expanded bytes (the disk it lands on has its limits). */
  maxBytes?: number;
}

const ZERO_BLOCK = Buffer.alloc(HOLE_BLOCK);

/** True when a block (at most HOLE_BLOCK bytes) is all zeros: one memcmp. */
function isZero(b: Uint8Array): boolean {
  return Buffer.from(b.buffer, b.byteOffset, b.length).equals(b.length === HOLE_BLOCK ? ZERO_BLOCK : ZERO_BLOCK.subarray(0, b.length));
}

/**
 * Decode `source` into the sparse file `dest` (created, or replaced) and return the expanded size. Zero blocks become
 * holes. On any failure (a truncated or corrupt stream, a full disk, a cancel) the file is removed and the error says
 * what went wrong; nothing has been written to a device.
 */
export async function spoolToFile(source: ByteSource, dest: string, options: SpoolOptions = {}): Promise<number> {
  await mkdir(dirname(dest), { recursive: true, mode: 0o700 });
  const file = await open(dest, 'w', 0o600);
  const every = options.progressEveryBytes ?? 16 << 20;
  let offset = 0;
  let nextReport = every;
  let pending: Buffer = Buffer.allocUnsafe(WRITE_BYTES);
  let pendingLen = 0;
  let pendingAt = 0;
  const flush = async (): Promise<void> => {
    if (pendingLen > 0) await file.write(pending, 0, pendingLen, pendingAt);
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
    for await (const chunk of source.stream(options.signal)) {
      options.signal?.throwIfAborted();
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
        throw new FlashError('image_too_large', `${source.description} expands past ${options.maxBytes} bytes; it cannot be spooled here.`);
      }
      if (offset >= nextReport) {
        nextReport = offset + every;
        options.onProgress?.({ bytes: offset });
      }
    }
    if (carry.length) {
      await take(carry, offset);
      offset += carry.length;
    }
    await flush();
    await file.truncate(offset);
    await file.close();
    options.onProgress?.({ bytes: offset });
    return offset;
  } catch (e) {
    await file.close().catch(() => undefined);
    await rm(dest, { force: true });
    if (options.signal?.aborted) throw new FlashError('cancelled', 'Cancelled');
    if ((e as NodeJS.ErrnoException).code === 'ENOSPC') {
      throw new FlashError('image_unreadable', `No room left in ${dirname(dest)} to check ${source.description}: free some space and try again.`);
    }
    throw e;
  } finally {
    pending = Buffer.alloc(0);
  }
}

/** Spool files kept for reuse (the same image flashed again decodes nothing); older ones are removed. */
export const SPOOL_KEEP = 4;

const inFlight = new Map<string, Promise<string>>();

/**
 * The spool file for `key` (an image file's identity) in `dir`: made once with `make(tmp)` — which returns when the
 * whole stream is decoded into `tmp` — then renamed into place, so a file under its final name is always complete.
 * Concurrent callers for one key share one decode; later callers reuse the file.
 */
export async function spooled(dir: string, key: string, make: (tmp: string) => Promise<void>): Promise<string> {
  const final = join(dir, `${key}.raw`);
  const existing = await stat(final).catch(() => undefined);
  if (existing?.isFile()) {
    const now = new Date();
    await utimes(final, now, now).catch(() => undefined); // most recently used: kept longest
    return final;
  }
  const running = inFlight.get(final);
  if (running) return running;
  const job = (async () => {
    const tmp = `${final}.${process.pid}.partial`;
    await make(tmp);
    await rename(tmp, final);
    // Keep the newest SPOOL_KEEP files.
    const names = (await readdir(dir)).filter((n) => n.endsWith('.raw'));
    const aged = await Promise.all(names.map(async (n) => ({ n, t: (await stat(join(dir, n)).catch(() => undefined))?.mtimeMs ?? 0 })));
    aged.sort((a, b) => b.t - a.t);
    for (const { n } of aged.slice(SPOOL_KEEP)) if (join(dir, n) !== final) await rm(join(dir, n), { force: true });
    return final;
  })();
  inFlight.set(final, job);
  try {
    return await job;
  } finally {
    inFlight.delete(final);
  }
}
