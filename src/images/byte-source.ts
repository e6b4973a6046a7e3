// Byte sources: the layers below a BlockSource (a file, a decompressor, a zip entry), each streamable again.
import { closeSync, openSync as openSyncFs, readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { FlashError, fileReadReason } from '../contracts/errors.js';

/** A stream of bytes that can be started again; `size` is its exact length when known. */
export interface ByteSource {
  readonly description: string;
  /** Exact length in bytes, when known without reading everything. */
  readonly size?: number;
  /**
   * The bytes from the start, in slices; fails with FlashError when the underlying data is broken or cut short.
   * Slices are lent: each is valid only until the consumer asks for the next one (or stops), because producers refill
   * the same buffers (fresh buffers for every slice cost a page fault per 4 KiB). Copy what must be kept (`owned`).
   */
  stream(signal?: AbortSignal, options?: StreamOptions): AsyncIterable<Uint8Array>;
  /** Random access (files and stored zip entries). */
  readAt?(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array>;
  /**
   * Blocking reads for a walk over many small headers (files): a thread-pool round trip per few bytes costs more than
   * the read itself. `close()` when done. Keep each use short: it holds the event loop.
   */
  openSync?(): SyncReader;
  /** Read into a caller's buffer (files): lets a scanner reuse its buffers instead of faulting in fresh pages. */
  readInto?(target: Uint8Array, offset: number, signal?: AbortSignal): Promise<number>;
}

/** Blocking positional reads of a file region (see ByteSource.openSync). */
export interface SyncReader {
  /** Up to `length` bytes at `offset` of the region (fewer at its end), into `into` when given. */
  readAt(offset: number, length: number, into?: Uint8Array): Uint8Array;
  close(): void;
}

/** How a stream will be read. */
export interface StreamOptions {
  /** Only its first bytes are wanted (a sniff): a decoder need not decode ahead of them. */
  head?: boolean;
}

export const READ_BYTES = 4 << 20;
/** Slices of a streamed file (compressed images mostly): 1 MiB keeps the two reused buffers small. */
const STREAM_READ_BYTES = 1 << 20;

/** A region of a file (the whole file, or a stored zip entry inside it). */
export function fileByteSource(path: string, start: number, size: number, description: string): ByteSource {
  // Random reads share one handle, closed after a second without use (small reads stay cheap: no open per read).
  // Each handle counts its own readers: one retired by a failed read is closed when its last reader is done.
  let shared: { fh: Promise<FileHandle>; users: number } | null = null;
  let idle: NodeJS.Timeout | null = null;
  const closeHandle = (h: { fh: Promise<FileHandle> }): void => void h.fh.then((fh) => fh.close()).catch(() => undefined);
  const withHandle = async <T>(fn: (fh: FileHandle) => Promise<T>): Promise<T> => {
    if (idle) clearTimeout(idle);
    idle = null;
    const mine = (shared ??= { fh: openFile(path), users: 0 });
    mine.users++;
    try {
      return await fn(await mine.fh);
    } catch (e) {
      if (shared === mine) shared = null; // (a read failed: the next one opens the file again)
      throw e;
    } finally {
      mine.users--;
      if (mine.users === 0) {
        if (shared !== mine) closeHandle(mine);
        else {
          idle = setTimeout(() => {
            if (shared === mine && mine.users === 0) {
              shared = null;
              closeHandle(mine);
            }
          }, 1000);
          idle.unref();
        }
      }
    }
  };
  const fill = async (fh: FileHandle, b: Uint8Array, n: number, offset: number): Promise<void> => {
    // (`offset` is relative to the region's start)
    let got = 0;
    while (got < n) {
      const { bytesRead } = await fh.read(b, got, n - got, start + offset + got).catch((e: unknown) => {
        throw fileError(e, path); // (EIO from a failing card, EISDIR)
      });
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    if (got !== n) throw new FlashError('image_unreadable', `${description}: file ended early (was it changed while open?)`);
  };
  const readAt = async (offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array> => {
    signal?.throwIfAborted();
    const n = Math.max(0, Math.min(length, size - offset));
    return withHandle(async (fh) => {
      const b = Buffer.allocUnsafe(n);
      await fill(fh, b, n, offset);
      return b;
    });
  };
  const readInto = async (target: Uint8Array, offset: number, signal?: AbortSignal): Promise<number> => {
    signal?.throwIfAborted();
    const n = Math.max(0, Math.min(target.length, size - offset));
    await withHandle((fh) => fill(fh, target, n, offset));
    return n;
  };
  const openSync = (): SyncReader => {
    let fd: number;
    try {
      fd = openSyncFs(path, 'r');
    } catch (e) {
      throw fileError(e, path);
    }
    return {
      readAt: (offset, length, into) => {
        const n = Math.max(0, Math.min(length, size - offset));
        const b = into && into.length >= n ? into : Buffer.allocUnsafe(n);
        let got = 0;
        while (got < n) {
          let r: number;
          try {
            r = readSync(fd, b, got, n - got, start + offset + got);
          } catch (e) {
            throw fileError(e, path);
          }
          if (r === 0) break;
          got += r;
        }
        if (got !== n) throw new FlashError('image_unreadable', `${description}: file ended early (was it changed while open?)`);
        return b.subarray(0, n);
      },
      close: () => closeSync(fd),
    };
  };
  return {
    description,
    size,
    readAt,
    readInto,
    openSync,
    async *stream(signal?: AbortSignal): AsyncGenerator<Uint8Array> {
      const fh = await openFile(path);
      try {
        // Two buffers, reused: one lent to the consumer, the next read into the other meanwhile.
        const bufs = [Buffer.allocUnsafe(Math.min(STREAM_READ_BYTES, size)), Buffer.allocUnsafe(Math.min(STREAM_READ_BYTES, Math.max(0, size - STREAM_READ_BYTES)))];
        const readOne = async (at: number, b: Buffer): Promise<Buffer> => {
          await fill(fh, b, Math.min(b.length, size - at), at);
          return b.subarray(0, Math.min(b.length, size - at));
        };
        let pos = 0;
        let i = 0;
        let next: Promise<Buffer> | null = size > 0 ? readOne(0, bufs[0] as Buffer) : null;
        while (next) {
          signal?.throwIfAborted();
          const b = await next;
          pos += b.length;
          i ^= 1;
          next = pos < size ? readOne(pos, bufs[i] as Buffer) : null;
          next?.catch(() => undefined);
          yield b;
        }
      } finally {
        await fh.close();
      }
    },
  };
}

/** Copies of a lent stream's slices, for consumers that keep them (node streams, lists of parts). */
export async function* owned(slices: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  for await (const b of slices) yield new Uint8Array(b);
}

async function openFile(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r');
  } catch (e) {
    throw fileError(e, path);
  }
}

/** A FlashError for a failed file operation: `image_not_found` for a missing file, else `image_unreadable`. */
export function fileError(e: unknown, path: string): FlashError {
  const code = (e as { code?: string }).code;
  if (code === 'ENOENT') return new FlashError('image_not_found', `${path} does not exist`, { cause: e });
  return new FlashError('image_unreadable', `${path} cannot be read: ${fileReadReason(e)}`, { cause: e });
}

/** Bytes in memory as a ByteSource (tests, small embedded images). */
export function memoryByteSource(bytes: Uint8Array, description = 'image in memory', sliceBytes = 1 << 20): ByteSource {
  return {
    description,
    size: bytes.length,
    readAt: (offset, length) => Promise.resolve(bytes.slice(offset, Math.min(bytes.length, offset + length))),
    async *stream() {
      for (let o = 0; o < bytes.length; o += sliceBytes) yield bytes.subarray(o, o + sliceBytes);
    },
  };
}
