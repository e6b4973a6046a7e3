// Reads for walks over many small headers spread through a file (sparse chunk tables, zstd frames and blocks): a
// window of the file is kept, so runs of small entries cost one read; files are read with blocking preads (a few µs
// each from the page cache, where a thread-pool round trip per header costs tens of µs and added ~10 ms to a 128-chunk
// sparse image's `start_flash`, seconds to a large one on a loaded machine), giving the event loop a turn every
// `yieldEvery` reads so that a slow disk holds it for at most that many reads.
import type { ByteSource } from './byte-source.js';

export interface HeaderWindow {
  /** `n` bytes at `at`; valid until the next call. The caller checks `at + n` against the file's size. */
  read(at: number, n: number): Promise<Uint8Array>;
  close(): void;
}

export interface HeaderWindowOptions {
  /** Bytes read per miss (at least `n`). */
  windowBytes: number;
  /** Blocking reads between turns of the event loop. */
  yieldEvery?: number;
  signal?: AbortSignal;
}

export function headerWindow(src: ByteSource, fileSize: number, options: HeaderWindowOptions): HeaderWindow {
  const { windowBytes, yieldEvery = 512, signal } = options;
  const readAt = src.readAt;
  const sync = src.openSync?.();
  const buf = sync ? Buffer.allocUnsafe(windowBytes) : undefined;
  let win: Uint8Array = new Uint8Array(0);
  let winAt = 0;
  let reads = 0;
  return {
    async read(at, n) {
      if (at < winAt || at + n > winAt + win.length) {
        const len = Math.max(n, Math.min(windowBytes, fileSize - at));
        if (sync) {
          if (++reads % yieldEvery === 0) {
            await new Promise((r) => setImmediate(r));
            signal?.throwIfAborted();
          }
          win = sync.readAt(at, len, len <= windowBytes ? buf : undefined);
        } else if (readAt) {
          win = await readAt.call(src, at, len, signal);
        } else {
          throw new Error(`${src.description}: random access is needed to read its headers`);
        }
        winAt = at;
      }
      return win.subarray(at - winAt, at - winAt + n);
    },
    close: () => sync?.close(),
  };
}
