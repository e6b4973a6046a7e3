// What the benchmarks share: the load average beside each figure, a JobContext that neither pauses nor throttles, and
// test images. Kept free of the station and the families: benches that time whole processes import it too.
import { randomFillSync } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { JobContext } from '../src/contracts/family.js';

/** os.loadavg() as "1m 5m 15m", printed with every figure (the machine is shared). */
export function load(): string {
  return loadavg().map((l) => l.toFixed(2)).join(' ');
}

/**
 * A job context for driving a family directly: no pause, no throttle, no reboot to wait for, no log; bytes that reach
 * the device go to `moved` when given.
 */
export function silentContext(options: { signal?: AbortSignal; deviceId?: string; moved?: (n: number) => void } = {}): JobContext {
  return {
    jobId: 'bench',
    deviceId: options.deviceId ?? 'bench',
    signal: options.signal ?? new AbortController().signal,
    gate: { pass: () => Promise.resolve() },
    throttle: { take: () => Promise.resolve() },
    moved: options.moved ?? (() => undefined),
    stage: () => undefined,
    log: () => undefined,
    waitForDevice: () => Promise.reject(new Error('no reboot to wait for in this bench')),
  };
}

/**
 * `size` bytes that compress like a system image: real binaries (ELF files over 20 kB under /usr/lib and /usr/bin),
 * random bytes where there are not enough.
 */
export function binaryPool(size = 64 << 20): Buffer {
  const out = Buffer.alloc(size);
  let o = 0;
  for (const d of ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/bin', '/usr/lib']) {
    let names: string[] = [];
    try {
      names = readdirSync(d);
    } catch {
      continue;
    }
    for (const n of names) {
      if (o >= out.length) break;
      try {
        const st = statSync(join(d, n));
        if (st.isFile() && st.size > 20_000) o += readFileSync(join(d, n)).copy(out, o);
      } catch {
        // unreadable: skip
      }
    }
  }
  if (o < out.length) randomFillSync(out, o);
  return out;
}

/** `n` bytes that differ with `seed` and do not compress (xorshift32): an application image for serial and DFU benches. */
export function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = 0x9e3779b9 ^ seed;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
