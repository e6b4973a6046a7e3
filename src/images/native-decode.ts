// The loop shared by the decoders that run a system C library through koffi (liblzma, libbz2): two reused output
// buffers, one lent to the consumer while the library fills the other on the thread pool.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export interface AsyncFn {
  async(...args: unknown[]): void;
}

export interface Koffi {
  load(path: string): { func(signature: string): ((...args: unknown[]) => unknown) & AsyncFn };
}

/** koffi, or null where its native part cannot load (then the pure-JS or addon decoders are used). */
export function loadKoffi(): Koffi | null {
  try {
    return require('koffi') as Koffi;
  } catch {
    return null;
  }
}

/** The address of a buffer's first byte (libc `memmove(p, p, 0)` returns its first argument), or null without libc. */
export function addressOf(koffi: Koffi): ((b: Uint8Array) => bigint) | null {
  const libc = process.platform === 'linux' ? 'libc.so.6' : process.platform === 'darwin' ? 'libSystem.B.dylib' : null;
  if (!libc) return null;
  try {
    const memmove = koffi.load(libc).func('uintptr_t memmove(void *dst, const void *src, size_t n)');
    return (b) => BigInt(memmove(b, b, 0) as number | bigint);
  } catch {
    return null;
  }
}

/** One call of the library into output buffer `k`: how many bytes it produced, and whether more may follow. */
export interface DecodeStep {
  produced: number;
  more: boolean;
}

/**
 * Run `step` into alternating buffers, starting the next call before the consumer gets the bytes of the last, and
 * yield each buffer's produced bytes (lent: valid until the next iteration). `step` throws on a library error.
 * `finish` runs once the library is idle, however the loop ends. Without `ahead` (a caller that wants only the
 * first bytes) the next call starts only when the consumer asks for more.
 */
export async function* pingPong(outs: readonly Uint8Array[], step: (k: number) => Promise<DecodeStep>, finish: () => Promise<void> | void, ahead = true): AsyncGenerator<Uint8Array> {
  let k = 0;
  let job: Promise<DecodeStep> | null = step(0);
  try {
    while (job) {
      const { produced, more } = await job;
      job = null;
      if (more && ahead) {
        job = step(k ^ 1);
        job.catch(() => undefined);
      }
      if (produced > 0) yield (outs[k] as Uint8Array).subarray(0, produced);
      if (more && !ahead) job = step(k ^ 1);
      k ^= 1;
    }
  } finally {
    if (job) await job.catch(() => undefined); // the library must be idle before its state is freed
    await finish();
  }
}
