// The block family when things go wrong on real loop devices: a disk that vanishes mid-write, writes that fail and
// pass on retry, a read-back mismatch, cancel and pause, and one image to several disks where one of them fails.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createBlockFamily } from '../../../../src/drivers/block/index.js';
import { createBlockLink, blockError } from '../../../../src/transports/block-io.js';
import { openImage } from '../../../../src/images/open.js';
import { shareSource } from '../../../../src/images/share.js';
import type { BlockIo, BlockLink } from '../../../../src/contracts/links.js';
import { FlashError } from '../../../../src/contracts/errors.js';
import { testContext } from '../job-context.js';
import { makeLoop, scribble, type Loop } from './loop.js';
import { head, makeImage, sameBytes } from './images.js';

const MiB = 1 << 20;
const loops: Loop[] = [];
afterEach(() => {
  for (const l of loops.splice(0)) l.detach();
});
function loop(size: number, o: { fill?: number } = {}): Loop {
  const l = makeLoop(size, o);
  loops.push(l);
  return l;
}

interface Hooks {
  /** Called before each write with the bytes written so far; a returned error is thrown instead of writing. */
  write?: (offset: number, length: number, written: number) => Error | undefined;
  /** Called once, before the first read (the read-back starts). */
  firstRead?: () => void;
}

/** A link whose opened BlockIo passes through to the real one, with faults injected by `hooks`. */
function faulty(path: string, hooks: Hooks): BlockLink {
  const inner = createBlockLink(path);
  return {
    kind: 'block',
    path,
    async open(o, s) {
      const io = await inner.open(o, s);
      let written = 0;
      let read = false;
      const wrapped: BlockIo & { zeroOut?: unknown } = {
        path: io.path, size: io.size, sectorSize: io.sectorSize, direct: io.direct,
        alloc: (n) => io.alloc(n),
        async write(offset, data, signal) {
          const err = hooks.write?.(offset, data.length, written);
          if (err) throw err;
          await io.write(offset, data, signal);
          written += data.length;
        },
        read(offset, into, signal) {
          if (!read) {
            read = true;
            hooks.firstRead?.();
          }
          return io.read(offset, into, signal);
        },
        sync: () => io.sync(), rereadPartitions: () => io.rereadPartitions(), close: () => io.close(),
      };
      return wrapped;
    },
    close: () => inner.close(),
  } as BlockLink;
}

const errno = (code: string): Error => Object.assign(new Error(`${code}: injected`), { code });

async function failure(p: Promise<unknown>): Promise<FlashError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(FlashError);
  return e as FlashError;
}

describe('block family faults', () => {
  it('a disk that vanishes mid-write fails as disconnected at once, naming the offset and what the disk holds', async () => {
    const disk = loop(32 * MiB);
    const img = makeImage(join(disk.dir, 'os.img'), 24 * MiB, [{ start: MiB, end: 23 * MiB }]);
    let gone = false;
    const link = faulty(disk.dev, { write: (_o, _n, written) => (written >= 8 * MiB || gone ? ((gone = true), blockError(errno('ENXIO'), disk.dev, 'write')) : undefined) });
    const family = createBlockFamily({ write: { present: async () => !gone, retryDelayMs: 1 } });
    const ctx = testContext();
    const err = await failure(family.run(link, { op: 'flash', target: { whole: true }, source: await openImage(img.xz) }, ctx));
    expect(err.code).toBe('disconnected');
    expect(err.message).toContain('disappeared while writing at byte');
    expect(err.detail).toMatch(/^byte offset \d+$/);
    expect(ctx.logs.some((l) => l.message.includes('partial image'))).toBe(true);
    expect(ctx.logs.some((l) => l.message.includes('retrying'))).toBe(false);
  });

  it('retries a failed write a bounded number of times: passes when the error passes, fails after the last try', async () => {
    const disk = loop(16 * MiB);
    const img = makeImage(join(disk.dir, 'os.img'), 8 * MiB, [{ start: MiB, end: 7 * MiB }]);
    let failures = 2;
    const flaky = faulty(disk.dev, { write: (offset) => (offset === 4 * MiB + MiB && failures-- > 0 ? blockError(errno('EIO'), disk.dev, 'write') : undefined) });
    const family = createBlockFamily({ write: { retryDelayMs: 1 } });
    const ctx = testContext();
    await family.run(flaky, { op: 'flash', target: { whole: true }, source: await openImage(img.xz) }, ctx);
    expect(sameBytes(img.raw, disk.dev)).toBe(true);
    expect(ctx.logs.filter((l) => l.level === 'warn' && l.message.includes('retrying'))).toHaveLength(2);

    const broken = faulty(disk.dev, { write: (offset) => (offset === MiB ? blockError(errno('EIO'), disk.dev, 'write') : undefined) });
    const err = await failure(family.run(broken, { op: 'flash', target: { whole: true }, source: await openImage(img.xz) }, testContext()));
    expect(err.code).toBe('device_error');
    expect(err.message).toContain('after 4 attempts');
    expect(err.detail).toBe(`byte offset ${MiB}`);
  });

  it('a block changed behind the writer\'s back fails the read-back with verify_mismatch and its offset', async () => {
    const disk = loop(32 * MiB);
    const img = makeImage(join(disk.dir, 'os.img'), 24 * MiB, [{ start: MiB, end: 23 * MiB }]);
    const at = 13 * MiB + 8192;
    const link = faulty(disk.dev, { firstRead: () => scribble(disk.dev, at, 4096, 0xee) });
    const ctx = testContext();
    const err = await failure(createBlockFamily().run(link, { op: 'flash', target: { whole: true }, source: await openImage(img.xz) }, ctx));
    expect(err.code).toBe('verify_mismatch');
    const offset = Number(/byte offset (\d+)/.exec(err.detail ?? '')?.[1]);
    expect(offset).toBeLessThanOrEqual(at);
    expect(offset + 4 * MiB).toBeGreaterThan(at);
    expect(err.message).toContain(`bytes ${offset}–`);
    expect(ctx.stages.some((s) => s.startsWith('Verifying'))).toBe(true);
  });

  it('a zeroed range that does not read back as zeros names the exact byte', async () => {
    const disk = loop(32 * MiB);
    const img = makeImage(join(disk.dir, 'os.img'), 24 * MiB, [{ start: MiB, end: 2 * MiB }]);
    const at = 20 * MiB + 12345;
    const link = faulty(disk.dev, { firstRead: () => scribble(disk.dev, at, 1, 0x01) });
    const err = await failure(createBlockFamily().run(link, { op: 'flash', target: { whole: true }, source: await openImage(img.xz) }, testContext()));
    expect(err.code).toBe('verify_mismatch');
    expect(err.detail).toBe(`byte offset ${at}`);
  });

  it('cancel stops between writes and says what the disk holds; pause holds the writes until resumed', async () => {
    const disk = loop(32 * MiB, { fill: 0x77 });
    const img = makeImage(join(disk.dir, 'os.img'), 24 * MiB, [{ start: MiB, end: 23 * MiB }]);
    const ctx = testContext();
    ctx.cancelAfter(6 * MiB);
    const err = await failure(createBlockFamily().run(createBlockLink(disk.dev), { op: 'flash', target: { whole: true }, source: await openImage(img.xz) }, ctx));
    expect(err.code).toBe('cancelled');
    expect(err.detail).toContain('no partition table');
    expect(head(disk.dev, MiB).every((b) => b === 0)).toBe(true);
    expect(head(disk.dev, 24 * MiB)[22 * MiB]).toBe(0x77); // it stopped long before the end

    const p = testContext();
    p.pause();
    const run = createBlockFamily().run(createBlockLink(disk.dev), { op: 'flash', target: { whole: true }, source: await openImage(img.xz) }, p);
    await new Promise((r) => setTimeout(r, 300));
    expect(p.bytesMoved).toBe(0);
    p.resume();
    await run;
    expect(sameBytes(img.raw, disk.dev)).toBe(true);
  });

  it('one decode feeds three disks; the one that fails is dropped and the others finish byte-exact', async () => {
    const disks = [loop(32 * MiB), loop(32 * MiB), loop(32 * MiB)];
    const d0 = disks[0] as Loop;
    const img = makeImage(join(d0.dir, 'os.img'), 24 * MiB, [{ start: MiB, end: 23 * MiB }]);
    const source = await openImage(img.xz);
    const views = shareSource(source, disks.length, { bufferBytes: 8 * MiB });
    let gone = false;
    const results = await Promise.allSettled(disks.map((d, i) => {
      const link = i === 1
        ? faulty(d.dev, { write: (_o, _n, w) => (w >= 4 * MiB ? ((gone = true), blockError(errno('ENODEV'), d.dev, 'write')) : undefined) })
        : createBlockLink(d.dev);
      const family = createBlockFamily({ write: i === 1 ? { present: async () => !gone, retryDelayMs: 1 } : {} });
      return family.run(link, { op: 'flash', target: { whole: true }, source: views[i] as typeof source }, testContext());
    }));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(((results[1] as PromiseRejectedResult).reason as FlashError).code).toBe('disconnected');
    expect(sameBytes(img.raw, d0.dev)).toBe(true);
    expect(sameBytes(img.raw, (disks[2] as Loop).dev)).toBe(true);
  });
});
