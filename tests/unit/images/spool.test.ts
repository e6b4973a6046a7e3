// The spool: a decode written once into a sparse file (holes for zero blocks, exact size and hash, progress), limits
// and free space checked, and SpoolFile's sharing — one decode for every waiter, stopped only when all have left.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ByteSource } from '../../../src/images/byte-source.js';
import { SpoolFile, spoolToFile, type SpoolMaker, type SpoolProgress } from '../../../src/images/spool.js';

const dir = mkdtempSync(join(tmpdir(), 'fs-spool-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A stream of `data` in slices of `slice` bytes; `gate` (when given) is awaited before each slice. */
function memory(data: Buffer, slice = 300_000, gate?: () => Promise<void>): ByteSource & { streams: number } {
  const src = {
    description: 'test.img (bzip2)',
    streams: 0,
    async *stream(signal?: AbortSignal): AsyncGenerator<Uint8Array> {
      src.streams++;
      for (let o = 0; o < data.length; o += slice) {
        await gate?.();
        signal?.throwIfAborted();
        yield data.subarray(o, o + slice);
      }
    },
  };
  return src;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('spoolToFile', () => {
  const data = Buffer.concat([randomBytes(200_000), Buffer.alloc(3 << 20), randomBytes(70_001)]);

  it('writes the expanded bytes with zero blocks as holes, and gives the exact size, hash and progress', async () => {
    const dest = join(dir, 'a', 'x.raw');
    const seen: SpoolProgress[] = [];
    let read = 0;
    const r = await spoolToFile(memory(data), dest, {
      reserveBytes: 0, progressEveryBytes: 1 << 20, onProgress: (p) => seen.push(p),
      input: () => ({ read: (read += 100), of: 1000 }),
    });
    expect(r).toEqual({ size: data.length, sha256: sha(data) });
    expect(readFileSync(dest).equals(data)).toBe(true);
    const st = statSync(dest);
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.blocks * 512).toBeLessThan(1 << 20); // the 3 MiB of zeros take no disk
    expect(seen[0]).toMatchObject({ bytes: 0 });
    expect(seen.at(-1)).toMatchObject({ bytes: data.length });
    expect(seen.map((p) => p.fraction ?? 0).every((f, i, a) => f >= (a[i - 1] ?? 0) && f <= 1)).toBe(true);
  });

  it('stops past maxBytes with image_too_large and removes the file', async () => {
    const dest = join(dir, 'b', 'x.raw');
    await expect(spoolToFile(memory(data), dest, { maxBytes: 1 << 20, reserveBytes: 0 })).rejects.toMatchObject({
      code: 'image_too_large', message: expect.stringMatching(/expands past 1\.00 MiB/),
    });
    expect(existsSync(dest)).toBe(false);
  });

  it('refuses to start when the disk would keep less than the reserve, naming the folder', async () => {
    const dest = join(dir, 'c', 'x.raw');
    await expect(spoolToFile(memory(data), dest, { reserveBytes: Number.MAX_SAFE_INTEGER })).rejects.toMatchObject({
      code: 'image_too_large', message: expect.stringContaining(`Not enough free disk space in ${join(dir, 'c')}`),
    });
    expect(existsSync(dest)).toBe(false);
  });

  it('turns an abort into `cancelled` and leaves nothing', async () => {
    const dest = join(dir, 'd', 'x.raw');
    const stop = new AbortController();
    await expect(spoolToFile(memory(data, 100_000), dest, { signal: stop.signal, reserveBytes: 0, progressEveryBytes: 1, onProgress: (p) => p.bytes > 0 && stop.abort() }))
      .rejects.toMatchObject({ code: 'cancelled' });
    expect(readdirSync(join(dir, 'd'))).toEqual([]);
  });
});

describe('SpoolFile', () => {
  const data = Buffer.concat([randomBytes(100_000), Buffer.alloc(1 << 20)]);

  /** A maker over a gated stream, counting how often it runs and whether its signal was aborted. */
  function maker(gate?: () => Promise<void>): { make: SpoolMaker; runs: number; aborted: boolean } {
    const m = {
      runs: 0,
      aborted: false,
      make: (async (dest, o) => {
        m.runs++;
        o.signal.addEventListener('abort', () => (m.aborted = true));
        return spoolToFile(memory(data, 65_536, gate), dest, { ...o, reserveBytes: 0, progressEveryBytes: 65_536 });
      }) as SpoolMaker,
    };
    return m;
  }

  /** A gate the test opens step by step. */
  function stepper(): { gate: () => Promise<void>; open: () => void } {
    let release: (() => void) | undefined;
    let opened = false;
    return {
      gate: () => (opened ? Promise.resolve() : new Promise<void>((r) => (release = r))),
      open: () => {
        opened = true;
        release?.();
      },
    };
  }

  it('decodes once for every waiter, shows each the progress, then answers at once from the finished file', async () => {
    const file = new SpoolFile(join(dir, 'e', 'one.raw'));
    const m = maker();
    const a: SpoolProgress[] = [];
    const b: SpoolProgress[] = [];
    const [ra, rb] = await Promise.all([file.fill(m.make, { onProgress: (p) => a.push(p) }), file.fill(m.make, { onProgress: (p) => b.push(p) })]);
    expect(ra).toEqual({ size: data.length, sha256: sha(data) });
    expect(rb).toEqual(ra);
    expect(m.runs).toBe(1);
    expect(a.at(-1)?.bytes).toBe(data.length);
    expect(b.at(-1)?.bytes).toBe(data.length);
    const later: SpoolProgress[] = [];
    expect(await file.fill(m.make, { onProgress: (p) => later.push(p) })).toEqual(ra);
    expect(m.runs).toBe(1);
    expect(later).toEqual([]);
    expect(readFileSync(file.path).equals(data)).toBe(true);
    await file.remove();
    expect(existsSync(file.path)).toBe(false);
    await expect(file.fill(m.make)).rejects.toMatchObject({ code: 'cancelled' });
  });

  it('keeps decoding while one waiter is left; stops and removes the partial file when the last one leaves', async () => {
    const folder = join(dir, 'f');
    const file = new SpoolFile(join(folder, 'two.raw'));
    const s = stepper();
    const m = maker(s.gate);
    const one = new AbortController();
    const two = new AbortController();
    const p1 = file.fill(m.make, { signal: one.signal });
    const p2 = file.fill(m.make, { signal: two.signal });
    await new Promise((r) => setTimeout(r, 20));
    one.abort();
    await expect(p1).rejects.toMatchObject({ code: 'cancelled' });
    expect(m.aborted).toBe(false);
    two.abort();
    await expect(p2).rejects.toMatchObject({ code: 'cancelled' });
    expect(m.aborted).toBe(true);
    s.open();
    await new Promise((r) => setTimeout(r, 50));
    expect(readdirSync(folder)).toEqual([]);
  });

  it('a fill that arrives while an abandoned decode is stopping starts a fresh one instead of sharing its cancel', async () => {
    const file = new SpoolFile(join(dir, 'h', 'late.raw'));
    const s = stepper();
    const m = maker(s.gate);
    const stop = new AbortController();
    const first = file.fill(m.make, { signal: stop.signal });
    await new Promise((r) => setTimeout(r, 20));
    stop.abort(); // the only waiter leaves: the decode is told to stop, but is still running
    const late = file.fill(maker().make);
    s.open();
    await expect(first).rejects.toMatchObject({ code: 'cancelled' });
    expect(await late).toMatchObject({ size: data.length });
    await file.remove();
  });

  it('a waiter that cancels on the progress replayed to it when it joins is cancelled; the decode goes on', async () => {
    const file = new SpoolFile(join(dir, 'i', 'replay.raw'));
    const s = stepper();
    const m = maker(s.gate);
    const first = file.fill(m.make);
    await new Promise((r) => setTimeout(r, 20)); // the decode has reported its start
    const stop = new AbortController();
    const late = file.fill(m.make, { signal: stop.signal, onProgress: () => stop.abort() });
    s.open();
    await expect(late).rejects.toMatchObject({ code: 'cancelled' });
    expect(await first).toMatchObject({ size: data.length });
    expect(m.aborted).toBe(false);
    await file.remove();
  });

  it('a failed decode reaches every waiter and leaves no file; the next fill decodes again', async () => {
    const folder = join(dir, 'g');
    const file = new SpoolFile(join(folder, 'bad.raw'));
    let runs = 0;
    const failing: SpoolMaker = async (dest, o) => {
      runs++;
      const broken: ByteSource = {
        description: 'broken.img (bzip2)',
        async *stream() {
          yield randomBytes(100_000);
          throw Object.assign(new Error('the bzip2 stream is truncated'), { code: 'image_invalid' });
        },
      };
      return spoolToFile(broken, dest, { ...o, reserveBytes: 0 });
    };
    const all = await Promise.allSettled([file.fill(failing), file.fill(failing)]);
    expect(all.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(runs).toBe(1);
    expect(readdirSync(folder)).toEqual([]);
    expect(await file.fill(maker().make)).toMatchObject({ size: data.length });
    await file.remove();
  });
});
