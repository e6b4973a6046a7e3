// What the benchmarks share: the load average beside each figure, a JobContext that neither pauses nor throttles,
// image-like bytes, and the child mode that serves standalone simulators (`flash-station sim FAMILY --tty …`) on ptys.
import { randomFillSync } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { JobContext } from '../src/contracts/family.js';
import { runSimCli } from '../src/sim/cli.js';

/** os.loadavg() as "1m 5m 15m", printed with every figure (the machine is shared). */
export function load(): string {
  return loadavg().map((l) => l.toFixed(2)).join(' ');
}

/** A job context for driving a family directly: no pause, no throttle, no reboot to wait for, nothing reported. */
export function silentContext(signal: AbortSignal = new AbortController().signal): JobContext {
  return {
    jobId: 'bench',
    deviceId: 'bench',
    signal,
    gate: { pass: () => Promise.resolve() },
    throttle: { take: () => Promise.resolve() },
    moved: () => undefined,
    stage: () => undefined,
    log: () => undefined,
    waitForDevice: () => Promise.reject(new Error('no reboot to wait for in this bench')),
  };
}

/**
 * Child mode: one standalone simulator of `family` per `TTY=STORE` spec, each with `flags`; prints `ready` once all
 * listen, runs until SIGTERM, then exits.
 */
export async function serveSimsOnTtys(family: string, specs: string[], flags: string[]): Promise<never> {
  const stop = new AbortController();
  process.on('SIGTERM', () => stop.abort());
  const ends = specs.map((spec) => {
    const [tty = '', store = ''] = spec.split('=');
    let ready: () => void = () => undefined;
    const isReady = new Promise<void>((r) => (ready = r));
    const done = runSimCli([family, '--tty', tty, '--store', store, ...flags], {
      out: (l) => (l.startsWith('ready') ? ready() : undefined),
      err: () => undefined,
      signal: stop.signal,
    });
    return { isReady, done };
  });
  await Promise.all(ends.map((e) => e.isReady));
  process.stdout.write('ready\n');
  await Promise.all(ends.map((e) => e.done));
  process.exit(0);
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
