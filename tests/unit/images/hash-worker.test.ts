// The worker hash of file segments equals hashing the same expanded bytes inline; a short file fails it.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SegmentList, hashFileInWorker } from '../../../src/images/hash-worker.js';

const dir = mkdtempSync(join(tmpdir(), 'hash-worker-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fillBytes(value: number, length: number): Buffer {
  const b = Buffer.alloc(Math.ceil(length / 4) * 4);
  for (let o = 0; o < b.length; o += 4) b.writeUInt32LE(value >>> 0, o);
  return b.subarray(0, length);
}

describe('hashFileInWorker', () => {
  it('hashes file ranges and fills in order, merging neighbours', async () => {
    const data = randomBytes(5 << 20);
    const path = join(dir, 'a.bin');
    writeFileSync(path, data);
    const segs = new SegmentList();
    segs.file(100, 1000);
    segs.file(1100, (4 << 20) + 3); // continues the previous range: merged, and crosses the worker's 4 MiB buffer
    segs.fill(0xdeadbeef, 4096 * 3);
    segs.fill(0xdeadbeef, 10);
    segs.fill(0, (1 << 20) + 7);
    segs.file(0, 5);
    const list = segs.done();
    expect(list.length).toBe(12);
    const expected = createHash('sha256')
      .update(data.subarray(100, 1100 + (4 << 20) + 3))
      .update(fillBytes(0xdeadbeef, 4096 * 3 + 10))
      .update(Buffer.alloc((1 << 20) + 7))
      .update(data.subarray(0, 5))
      .digest('hex');
    expect(await hashFileInWorker(path, list)).toBe(expected);
  });

  it('rejects when the file is shorter than the segments say', async () => {
    const path = join(dir, 'short.bin');
    writeFileSync(path, randomBytes(1000));
    const segs = new SegmentList();
    segs.file(0, 2000);
    await expect(hashFileInWorker(path, segs.done())).rejects.toThrow(/shorter/);
  });
});
