// The window that header walks (sparse chunk tables, zstd frames) read through: one read per window, blocking reads
// where the source has them with a turn of the event loop every few, async reads otherwise.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileByteSource, type ByteSource, type SyncReader } from '../../../src/images/byte-source.js';
import { headerWindow } from '../../../src/images/header-window.js';

const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => i & 0xff));

/** A source over `bytes` that counts its reads of each kind. */
function counting(withSync: boolean): { src: ByteSource; reads: { sync: number; async: number; closed: number } } {
  const reads = { sync: 0, async: 0, closed: 0 };
  const sync = (): SyncReader => ({
    readAt: (offset, length, into) => {
      reads.sync++;
      const part = bytes.subarray(offset, Math.min(bytes.length, offset + length));
      if (!into) return Buffer.from(part);
      into.set(part);
      return into.subarray(0, part.length);
    },
    close: () => void reads.closed++,
  });
  const src: ByteSource = {
    description: 'headers.bin',
    size: bytes.length,
    async *stream() {
      yield bytes;
    },
    readAt: async (offset, length) => {
      reads.async++;
      return bytes.subarray(offset, offset + length);
    },
    ...(withSync ? { openSync: sync } : {}),
  };
  return { src, reads };
}

describe('headerWindow', () => {
  it('answers reads inside the window from it: one blocking read per window', async () => {
    const { src, reads } = counting(true);
    const w = headerWindow(src, bytes.length, { windowBytes: 256 });
    expect([...(await w.read(10, 4))]).toEqual([10, 11, 12, 13]);
    expect([...(await w.read(200, 2))]).toEqual([200, 201]);
    expect(reads.sync).toBe(1);
    expect([...(await w.read(300, 3))]).toEqual([44, 45, 46]); // (300 & 0xff)
    expect([...(await w.read(20, 1))]).toEqual([20]); // before the window: read again
    expect(reads).toEqual({ sync: 3, async: 0, closed: 0 });
    w.close();
    expect(reads.closed).toBe(1);
  });

  it('reads a header longer than the window whole, and stops at the end of the file', async () => {
    const { src } = counting(true);
    const w = headerWindow(src, bytes.length, { windowBytes: 16 });
    expect((await w.read(0, 64)).length).toBe(64);
    expect([...(await w.read(4090, 6))]).toEqual([250, 251, 252, 253, 254, 255]);
    w.close();
  });

  it('uses async reads for a source without blocking reads', async () => {
    const { src, reads } = counting(false);
    const w = headerWindow(src, bytes.length, { windowBytes: 64 });
    await w.read(0, 4);
    await w.read(100, 4);
    await w.read(120, 4);
    expect(reads).toEqual({ sync: 0, async: 2, closed: 0 });
    w.close();
  });

  it('gives the event loop a turn after each slice of blocking reads', async () => {
    const { src, reads } = counting(true);
    let t = 0;
    const w = headerWindow(src, bytes.length, { windowBytes: 16, sliceMs: 4, now: () => t });
    let turns = 0;
    const tick = (): void => {
      turns++;
      if (turns < 100) setImmediate(tick);
    };
    setImmediate(tick);
    for (let i = 0; i < 3; i++) {
      await w.read(i * 32, 4);
      t += 1; // each read "takes" 1 ms
    }
    expect(turns).toBe(0); // 3 ms of reading: no turn yet
    t += 1;
    await w.read(3 * 32, 4);
    expect(turns).toBe(1);
    expect(reads.sync).toBe(4);
    w.close();
  });

  it('notices a cancel at the next read that needs the file, and inside a window it has', async () => {
    const { src } = counting(true);
    const ac = new AbortController();
    const w = headerWindow(src, bytes.length, { windowBytes: 64, signal: ac.signal });
    await w.read(0, 4);
    ac.abort(new Error('stop'));
    expect([...(await w.read(8, 2))]).toEqual([8, 9]); // from the window already read
    await expect(w.read(200, 4)).rejects.toThrow('stop');
    w.close();
  });

  it('goes on with thread-pool reads after a slow blocking read (a cold disk), and closes the blocking reader', async () => {
    const { src, reads } = counting(true);
    let t = 0;
    const slowSrc: ByteSource = {
      ...src,
      openSync: () => {
        const inner = src.openSync!();
        return {
          readAt: (offset, length, into) => {
            t += 20; // 20 ms for one read
            return inner.readAt(offset, length, into);
          },
          close: () => inner.close(),
        };
      },
    };
    const w = headerWindow(slowSrc, bytes.length, { windowBytes: 16, slowReadMs: 5, now: () => t });
    expect([...(await w.read(0, 2))]).toEqual([0, 1]);
    expect([...(await w.read(100, 2))]).toEqual([100, 101]);
    expect([...(await w.read(300, 2))]).toEqual([44, 45]);
    expect(reads).toEqual({ sync: 1, async: 2, closed: 1 });
    w.close();
    expect(reads.closed).toBe(1);
  });

  describe('on a real file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'header-window-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('reads the same bytes blocking as async', async () => {
      const path = join(dir, 'f.bin');
      writeFileSync(path, bytes);
      const src = fileByteSource(path, 100, 3000, 'f.bin');
      const blocking = headerWindow(src, 3000, { windowBytes: 128 });
      const plain = headerWindow({ ...src, openSync: undefined }, 3000, { windowBytes: 128 });
      for (const at of [0, 5, 127, 128, 1000, 2990]) {
        expect(Buffer.from(await blocking.read(at, 10))).toEqual(bytes.subarray(100 + at, 110 + at));
        expect(Buffer.from(await plain.read(at, 10))).toEqual(bytes.subarray(100 + at, 110 + at));
      }
      blocking.close();
      plain.close();
    });
  });
});
