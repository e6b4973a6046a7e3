// Raw images that are sparse files on disk: holes known through SEEK_DATA/SEEK_HOLE, sent as zero fills, never read.
import { createHash } from 'node:crypto';
import { closeSync, ftruncateSync, openSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Chunk } from '../../../src/contracts/source.js';
import { fileByteSource } from '../../../src/images/byte-source.js';
import { fileDataExtents } from '../../../src/images/file-extents.js';
import { openImage, resparse, writeSparse } from '../../../src/images/index.js';
import { RawSource } from '../../../src/images/raw-source.js';
import { collect, expand, rng, tempDir } from './helpers.js';

const BS = 4096;
const t = tempDir('fs-holes-');
afterAll(() => t.cleanup());
const p = (name: string): string => join(t.dir, name);
const linux = process.platform === 'linux';

/**
 * Write `img` to `path` as a sparse file: only blocks that are not all zeros are written, except the blocks listed
 * in `denseZeros` (zero blocks written out, so they are data extents holding zeros). Returns the holes' block count.
 */
function writeHoley(path: string, img: Buffer, denseZeros: number[] = []): number {
  const fd = openSync(path, 'w');
  let holes = 0;
  try {
    ftruncateSync(fd, img.length);
    for (let o = 0; o < img.length; o += BS) {
      const block = img.subarray(o, Math.min(img.length, o + BS));
      if (block.every((x) => x === 0) && !denseZeros.includes(o / BS)) {
        holes++;
        continue;
      }
      writeSync(fd, block, 0, block.length, o);
    }
  } finally {
    closeSync(fd);
  }
  return holes;
}

/** Everything a flash sees of an image: resparse pieces, writeSparse bytes, expanded bytes, hash, data count. */
async function observe(path: string): Promise<{ pieces: Buffer[]; sparse: Buffer; bytes: Buffer; sha: string; data: number }> {
  const pieces: Buffer[] = [];
  const a = await openImage(path);
  for await (const piece of resparse(a, 40 * BS)) pieces.push(await collect(piece.bytes()));
  const sha = await a.sha256();
  expect(a.exact).toBe(true);
  const data = a.dataBytes;
  const sparse = await collect(writeSparse(await openImage(path, { hash: false })));
  const bytes = await expand(await openImage(path, { hash: false }));
  return { pieces, sparse, bytes, sha, data };
}

/** A zero-filled image with random-data and repeated-word runs placed at random blocks (most of it holes). */
function mostlyHoles(seed: number, blocks: number, tail: number): Buffer {
  const r = rng(seed);
  const img = Buffer.alloc(blocks * BS + tail);
  for (let b = 0; b < blocks; ) {
    const run = 1 + Math.floor(r() * 12);
    const kind = r();
    if (kind < 0.3) {
      for (let i = b * BS; i < Math.min(blocks, b + run) * BS; i += 4) img.writeUInt32LE(Math.floor(r() * 2 ** 32), i);
    } else if (kind < 0.4) {
      img.fill(0x5a, b * BS, Math.min(blocks, b + run) * BS);
    }
    b += run + Math.floor(r() * 30);
  }
  for (let i = blocks * BS; i < img.length; i++) img[i] = 1 + (i % 200);
  return img;
}

describe('raw files with holes (SEEK_DATA / SEEK_HOLE)', () => {
  it.skipIf(!linux)('knows the holes of a sparse file and none of a dense one', async () => {
    const img = mostlyHoles(1, 300, 0);
    writeHoley(p('map.img'), img);
    writeFileSync(p('map-dense.img'), img);
    const extents = await fileDataExtents(p('map.img'), img.length);
    expect(extents).toBeDefined();
    for (const e of extents ?? []) expect(e.end).toBeGreaterThan(e.start);
    const dataBlocks = (extents ?? []).reduce((s, e) => s + (e.end - e.start), 0) / BS;
    expect(dataBlocks).toBeLessThan(300 / 2);
    // every non-zero byte lies in an extent
    for (let o = 0; o < img.length; o += BS) {
      if (img.subarray(o, o + BS).some((x) => x !== 0)) expect((extents ?? []).some((e) => e.start <= o && o < e.end)).toBe(true);
    }
    expect(await fileDataExtents(p('map-dense.img'), img.length)).toBeUndefined();
  });

  it('gives the same pieces, sparse bytes, expanded bytes, SHA-256 and data count as the dense file', async () => {
    for (const [seed, blocks, tail] of [[2, 500, 0], [3, 257, 1234], [4, 64, 4095]] as const) {
      const img = mostlyHoles(seed, blocks, tail);
      // a zero block written out (a data extent holding zeros) right after the first data run is still a fill
      const firstData = img.findIndex((x) => x !== 0);
      const denseZero = Math.floor(firstData / BS) + 14;
      writeHoley(p(`h${seed}.img`), img, [denseZero, denseZero + 1]);
      writeFileSync(p(`d${seed}.img`), img);
      const holey = await observe(p(`h${seed}.img`));
      const dense = await observe(p(`d${seed}.img`));
      expect(holey.bytes.equals(img)).toBe(true);
      expect(holey.sha).toBe(createHash('sha256').update(img).digest('hex'));
      expect(holey.sha).toBe(dense.sha);
      expect(holey.data).toBe(dense.data);
      expect(holey.sparse.equals(dense.sparse)).toBe(true);
      expect(holey.pieces.length).toBe(dense.pieces.length);
      holey.pieces.forEach((b, i) => expect(b.equals(dense.pieces[i] ?? Buffer.alloc(0))).toBe(true));
    }
  });

  it.skipIf(!linux)('reads only the data extents (holes cost no read), and finds fill blocks inside them', async () => {
    const img = Buffer.alloc(1024 * BS);
    img.fill(0xab, 100 * BS, 101 * BS); // a fill block in a data extent
    for (let i = 101 * BS; i < 103 * BS; i++) img[i] = (i * 31) & 0xff; // data
    for (let i = 900 * BS; i < 901 * BS; i++) img[i] = (i * 17 + 1) & 0xff;
    writeHoley(p('few.img'), img);
    const extents = await fileDataExtents(p('few.img'), img.length);
    expect(extents).toBeDefined();
    const bytes = fileByteSource(p('few.img'), 0, img.length, 'few.img');
    const reads: [number, number][] = [];
    const readInto = bytes.readInto;
    const src = new RawSource({ ...bytes, readInto: (b, at, signal) => {
      reads.push([at, at + b.length]);
      return (readInto as NonNullable<typeof readInto>).call(bytes, b, at, signal);
    } }, { size: img.length, description: 'few.img', hash: false, reopenable: true, extents });
    const chunks: Chunk[] = [];
    const out = Buffer.alloc(img.length, 0xee);
    for await (const c of src.chunks()) {
      chunks.push(c);
      if (c.kind === 'data') out.set(c.bytes, c.offset);
      else if (c.kind === 'fill') for (let i = 0; i < c.length; i += 4) out.writeUInt32LE(c.value, c.offset + i);
    }
    expect(out.equals(img)).toBe(true);
    expect(chunks.some((c) => c.kind === 'skip')).toBe(false); // holes are written as zeros, never skipped
    expect(chunks).toContainEqual({ kind: 'fill', offset: 100 * BS, length: BS, value: 0xabababab });
    const readBytes = reads.reduce((s, [a, b]) => s + (b - a), 0);
    expect(readBytes).toBeLessThanOrEqual(16 * BS); // file systems allocate in blocks, some more than 4 KiB
    for (const [a, b] of reads) expect((extents ?? []).some((e) => e.start < b && a < e.end)).toBe(true);
    expect(src.dataBytes).toBe(3 * BS);
  });

  it('keeps the hole map taken at open: a hole written later still reads as zeros in chunks and hash alike', async () => {
    const img = mostlyHoles(5, 400, 0);
    writeHoley(p('changing.img'), img);
    const src = await openImage(p('changing.img'));
    // Find a hole block far from any data and write data there after the open.
    let hole = -1;
    for (let b = 399; b > 0 && hole < 0; b--) {
      if (img.subarray((b - 20) * BS, (b + 1) * BS).every((x) => x === 0)) hole = b - 10;
    }
    expect(hole).toBeGreaterThan(0);
    const fd = openSync(p('changing.img'), 'r+');
    writeSync(fd, Buffer.alloc(BS, 0x77), 0, BS, hole * BS);
    closeSync(fd);
    const seen = await expand(src);
    expect(seen.length).toBe(img.length);
    const known = (await fileDataExtents(p('changing.img'), img.length)) !== undefined;
    if (known && linux) expect(seen.equals(img)).toBe(true); // the snapshot: the new block was a hole then
    // The file changed after it was opened: its hash is refused rather than recorded for other bytes.
    await expect(src.sha256()).rejects.toMatchObject({ code: 'image_mismatch' });
    await expect(src.unchanged?.()).rejects.toMatchObject({ code: 'image_mismatch' });
    // a fresh open sees the new data
    const again = await expand(await openImage(p('changing.img'), { hash: false }));
    expect(again.readUInt32LE(hole * BS)).toBe(0x77777777);
  });

  it('fails with image_mismatch, naming the new size, when the file is cut short after open, before its data', async () => {
    const img = mostlyHoles(6, 300, 0);
    img.fill(0x31, 299 * BS); // the last block is data
    writeHoley(p('cut.img'), img);
    const src = await openImage(p('cut.img'), { hash: false });
    truncateSync(p('cut.img'), 150 * BS);
    expect(statSync(p('cut.img')).size).toBe(150 * BS);
    // The read fails, and the file is no longer the one opened: the error says so (issue 15, defect 2).
    await expect(expand(src)).rejects.toMatchObject({ code: 'image_mismatch', message: expect.stringMatching(/its size changed from \d+ to \d+ bytes/) });
  });
});
