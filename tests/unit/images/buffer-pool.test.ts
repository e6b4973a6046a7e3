// The read buffers of a flash are reused: a slice given back (as the transport does once it has sent it) is refilled
// for a later slice, so the buffers created stay a handful however many MiB are written; and data slices reach the
// consumer as they were read, with no copy in between. Counted through the pools and the copy meter, not by the clock.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BufferPool, copyMeter, poolMeter } from '../../../src/images/buffer-pool.js';
import { openImage, resparse, writeSparse } from '../../../src/images/index.js';

const MiB = 1 << 20;

describe('BufferPool', () => {
  it('hands out a given-back buffer again and makes a new one only while all are out', () => {
    const pool = new BufferPool(4096, 2);
    const a = pool.take();
    const b = pool.take();
    expect(pool.stats.allocated).toBe(2);
    pool.release(a.subarray(0, 10)); // a view of the buffer gives back the whole buffer
    expect(pool.take()).toBe(a);
    pool.release(b);
    pool.release(b); // twice: ignored
    pool.release(new Uint8Array(4096)); // not the pool's: ignored
    expect(pool.stats).toEqual({ allocated: 2, taken: 3, released: 2 });
    expect(pool.outstanding).toBe(1);
  });

  it('keeps at most `keep` free buffers', () => {
    const pool = new BufferPool(1024, 1);
    const bufs = [pool.take(), pool.take(), pool.take()];
    for (const b of bufs) pool.release(b);
    pool.take();
    pool.take();
    expect(pool.stats.allocated).toBe(4);
  });

  it('refuses a size that is not a positive whole number', () => {
    expect(() => new BufferPool(0)).toThrow(RangeError);
    expect(() => new BufferPool(1.5)).toThrow(RangeError);
  });
});

/** A raw image: `runs` runs of 4 MiB of varied data, each followed by 4 MiB of zeros. */
function rawImage(runs: number): Buffer {
  const img = Buffer.alloc(runs * 8 * MiB);
  let x = 0x9e3779b9;
  for (let r = 0; r < runs; r++) {
    for (let i = r * 8 * MiB; i < r * 8 * MiB + 4 * MiB; i += 4) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      img.writeUInt32LE(x >>> 0, i);
    }
  }
  return img;
}

/**
 * Streams every piece of `path` like the fastboot driver does (at most `maxBytes` per piece) and returns the SHA-256
 * of all pieces' bytes. With `giveBack`, each slice is released once "written", as a transport does.
 */
async function flashBytes(path: string, maxBytes: number, giveBack: boolean): Promise<{ sha256: string; bytes: number; pieces: number }> {
  const source = await openImage(path, { hash: false });
  const h = createHash('sha256');
  let bytes = 0;
  let pieces = 0;
  for await (const piece of resparse(source, maxBytes)) {
    pieces++;
    for await (const slice of piece.bytes()) {
      h.update(slice);
      bytes += slice.length;
      if (giveBack) piece.release(slice);
    }
  }
  return { sha256: h.digest('hex'), bytes, pieces };
}

describe('resparse read buffers', () => {
  const runs = 12; // 48 MiB of data in a 96 MiB image
  let dir = '';
  let rawPath = '';
  let sparsePath = '';
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pool-'));
    rawPath = join(dir, 'image.raw');
    sparsePath = join(dir, 'image.simg');
    writeFileSync(rawPath, rawImage(runs));
    const parts: Uint8Array[] = [];
    for await (const b of writeSparse(await openImage(rawPath, { hash: false }))) parts.push(new Uint8Array(b));
    writeFileSync(sparsePath, Buffer.concat(parts));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  beforeEach(() => {
    poolMeter.reset();
    copyMeter.reset();
  });

  for (const kind of ['sparse', 'raw'] as const) {
    it(`${kind} file: slices given back are refilled, so buffers stay a handful for 48 MiB; data is not copied`, async () => {
      const path = kind === 'sparse' ? sparsePath : rawPath;
      const released = await flashBytes(path, 16 * MiB, true);
      const dataMiB = runs * 4;
      // Bounded: the reads in flight ahead of the consumer and the slice it holds (1 MiB each), plus a staging block
      // or two (64 KiB) for the sparse headers.
      expect(poolMeter.allocations).toBeLessThanOrEqual(8);
      expect(poolMeter.bytes).toBeLessThanOrEqual(5 * MiB + 4 * 65536);
      // Data slices go out as read. The one copy allowed: a piece's last few blocks of data (under 16 KiB) that share
      // a staging block with the headers around them instead of a write of their own.
      expect(released.pieces).toBeGreaterThanOrEqual(3);
      expect(copyMeter.bytes).toBeLessThan(released.pieces * 16384);

      // The same pieces when nothing is given back: the bytes are the same, every MiB a fresh buffer.
      poolMeter.reset();
      const kept = await flashBytes(path, 16 * MiB, false);
      expect(kept).toEqual(released);
      expect(poolMeter.bytes / MiB).toBeGreaterThanOrEqual(dataMiB);
    });
  }
});
