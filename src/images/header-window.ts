// Reads for walks over many small headers spread through a file (sparse chunk tables, zstd frames and blocks): a
// window of the file is kept, so runs of small entries cost one read. Files are read with blocking preads — a few µs
// each from the page cache, where a thread-pool round trip per header costs tens of µs (it added ~4 ms to a 128-chunk
// sparse image's `start_flash`, and seconds to a large one on a busy machine). The event loop gets a turn after every
// `sliceMs` of blocking reads, and a read slower than `slowReadMs` (a cold disk, a USB stick, a network share) switches
// the rest of the walk to thread-pool reads, so slow storage holds the loop for one read at most.
import { FlashError } from '../contracts/errors.js';
import type { ByteSource, SyncReader } from './byte-source.js';

export interface HeaderWindow {
  /** `n` bytes at `at`; valid until the next call. The caller checks `at + n` against the file's size. */
  read(at: number, n: number): Promise<Uint8Array>;
  close(): void;
}

export interface HeaderWindowOptions {
  /** Bytes read per miss (at least `n`). */
  windowBytes: number;
  signal?: AbortSignal;
  /** Blocking reads for at most this long before the event loop gets a turn (default 4 ms). */
  sliceMs?: number;
  /** A blocking read that took longer than this ends blocking reads for this walk (default 5 ms). */
  slowReadMs?: number;
  /** Milliseconds, for the two limits above (tests pass a fake clock). */
  now?: () => number;
}

/** A window over `src`, which needs random access (`readAt`; files also have blocking reads). */
export function headerWindow(src: ByteSource, fileSize: number, options: HeaderWindowOptions): HeaderWindow {
  const { windowBytes, signal, sliceMs = 4, slowReadMs = 5, now = () => performance.now() } = options;
  const readAt = src.readAt;
  if (!readAt) throw new FlashError('internal', `${src.description}: its headers need random access`);
  let sync: SyncReader | undefined = src.openSync?.();
  const buf = sync ? Buffer.allocUnsafe(windowBytes) : undefined;
  let win: Uint8Array = new Uint8Array(0);
  let winAt = 0;
  let sliceStart = now();
  const stopBlocking = (): void => {
    sync?.close();
    sync = undefined;
  };
  return {
    async read(at, n) {
      if (at < winAt || at + n > winAt + win.length) {
        signal?.throwIfAborted();
        const len = Math.max(n, Math.min(windowBytes, fileSize - at));
        if (sync) {
          if (now() - sliceStart >= sliceMs) {
            await new Promise((r) => setImmediate(r));
            signal?.throwIfAborted();
            sliceStart = now();
          }
          const t = now();
          win = sync.readAt(at, len, len <= windowBytes ? buf : undefined);
          if (now() - t > slowReadMs) stopBlocking();
        } else {
          win = await readAt.call(src, at, len, signal);
        }
        winAt = at;
      }
      return win.subarray(at - winAt, at - winAt + n);
    },
    close: stopBlocking,
  };
}
