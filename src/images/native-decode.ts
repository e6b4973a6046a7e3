// The loop shared by the decoders that run a system C library through koffi (liblzma, libbz2): a ring of reused output
// buffers, one lent to the consumer while the library fills the others on the thread pool.
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

/**
 * Output buffers a streaming decoder keeps: one lent to the consumer, the rest decoded ahead. 8 × 1 MiB lets the
 * library run through a stretch where the consumer is the slower one (zero runs it scans and hashes) without waiting.
 */
export const RING_BUFFERS = 8;

/** `count` reused output buffers of `bytes` each. */
export function ringBuffers(bytes: number, count = RING_BUFFERS): Buffer[] {
  return Array.from({ length: count }, () => Buffer.allocUnsafe(bytes));
}

/** One call of the library into output buffer `k`: how many bytes it produced, and whether more may follow. */
export interface DecodeStep {
  produced: number;
  more: boolean;
}

/**
 * Run `step` into a ring of output buffers and yield each buffer's produced bytes in order (lent: valid until the
 * next iteration). Calls run one after another (the library's stream state is sequential), but with `ahead` they run
 * ahead of the consumer into every buffer it does not hold: a consumer that is slow for a while (hashing a run of
 * zeros, say) and a library that is slow for a while (a run of dense data) overlap instead of waiting on each other.
 * `step` throws on a library error: the bytes decoded before it are yielded first. `finish` runs once the library is
 * idle, however the loop ends. Without `ahead` (a caller that wants only the first bytes) a call starts only when the
 * consumer asks for more.
 */
export async function* decodeRing(outs: readonly Uint8Array[], step: (k: number) => Promise<DecodeStep>, finish: () => Promise<void> | void, ahead = true): AsyncGenerator<Uint8Array> {
  const n = outs.length;
  if (n < 2) throw new RangeError('decodeRing needs at least two buffers');
  /** Decoded and not yet consumed, in order; a failure ends the queue. */
  const ready: Array<{ k: number; produced: number } | { error: unknown }> = [];
  let held = -1; // the buffer lent to the consumer
  let next = 0; // the buffer the next call fills
  let running: Promise<void> | null = null;
  let more = true;
  let stopped = false;
  let wake: (() => void) | null = null;
  const signal = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  /** Start the next call if a buffer is free (not decoded-unconsumed, not lent) and the library is idle. */
  const pump = (): void => {
    if (running || !more || stopped) return;
    if (ready.length + (held >= 0 ? 1 : 0) >= n) return;
    if (!ahead && ready.length > 0) return;
    const k = next;
    next = (next + 1) % n;
    running = step(k).then(
      (r) => {
        more = r.more;
        if (r.produced > 0) ready.push({ k, produced: r.produced });
      },
      (e: unknown) => {
        more = false;
        ready.push({ error: e });
      },
    ).finally(() => {
      running = null;
      if (ahead) pump();
      signal();
    });
  };
  try {
    for (;;) {
      held = -1;
      pump();
      while (ready.length === 0 && (running || more)) {
        if (!running) pump();
        await new Promise<void>((r) => {
          wake = r;
        });
      }
      const item = ready.shift();
      if (!item) return;
      if ('error' in item) throw item.error;
      held = item.k;
      if (ahead) pump();
      yield (outs[item.k] as Uint8Array).subarray(0, item.produced);
    }
  } finally {
    stopped = true;
    const last = running as Promise<void> | null; // (set in callbacks: the compiler sees only the null above)
    if (last) await last; // the library must be idle before its state is freed
    await finish();
  }
}
