// Data chunks and piece slices belong to the consumer: readers refill their buffers (lent stream slices), so anything
// a consumer keeps — shareSource, a driver with writes in flight — must still hold the image after the read moved on.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Chunk } from '../../../src/contracts/source.js';
import { HashedSource } from '../../../src/images/hashed-source.js';
import { openImage, resparse } from '../../../src/images/index.js';
import { randomImage, tempDir } from './helpers.js';

const t = tempDir('fs-images-own-');
afterAll(() => t.cleanup());
const p = (name: string): string => join(t.dir, name);
let raw: Buffer;

beforeAll(() => {
  // 14 MiB: more than the 4 MiB file reads and 1 MiB decoder buffers, so every reused buffer is refilled.
  raw = randomImage(77, 3600);
  writeFileSync(p('img.raw'), raw);
  execFileSync('img2simg', [p('img.raw'), p('img.simg')]);
  execFileSync('sh', ['-c', 'zstd -qf img.raw && zstd -qf img.simg -o img.simg.zst && xz -kf -T1 img.simg && gzip -kf img.raw'], { cwd: t.dir });
}, 120_000);

/** Keep every chunk until the end, then lay them out: a chunk whose buffer was refilled shows up as wrong bytes. */
async function keptExpand(chunks: AsyncIterable<Chunk>, size: number): Promise<Buffer> {
  const kept: Chunk[] = [];
  for await (const c of chunks) kept.push(c);
  const out = Buffer.alloc(size);
  for (const c of kept) {
    if (c.kind === 'data') out.set(c.bytes, c.offset);
    else if (c.kind === 'fill') for (let i = 0; i < c.length; i += 4) out.writeUInt32LE(c.value >>> 0, c.offset + i);
  }
  return out;
}

describe('kept chunks still hold the image', () => {
  it.each(['img.raw', 'img.simg', 'img.raw.zst', 'img.simg.zst', 'img.simg.xz', 'img.raw.gz'])('%s', async (name) => {
    const src = await openImage(p(name), { hash: false });
    const got = await keptExpand(src.chunks(), src.size);
    expect(got.subarray(0, raw.length).equals(raw)).toBe(true);
  });

  it('kept resparse slices of a compressed sparse image expand to the image (simg2img)', async () => {
    const src = await openImage(p('img.simg.zst'), { hash: false });
    const pieces: Buffer[] = [];
    for await (const piece of resparse(src, 2 << 20, { memoryLimit: 1 << 20 })) {
      const slices: Uint8Array[] = [];
      for await (const b of piece.bytes()) slices.push(b); // kept, as a transport with writes in flight does
      pieces.push(Buffer.concat(slices));
    }
    expect(pieces.length).toBeGreaterThan(3);
    const image = Buffer.alloc(raw.length);
    for (const [i, piece] of pieces.entries()) {
      writeFileSync(p(`piece${i}.simg`), piece);
      execFileSync('simg2img', [p(`piece${i}.simg`), p(`piece${i}.raw`)]);
      const part = readFileSync(p(`piece${i}.raw`));
      for (let o = 0; o < raw.length; o += 4096) {
        const blk = part.subarray(o, o + 4096);
        if (blk.some((x) => x !== 0)) blk.copy(image, o);
      }
    }
    expect(image.equals(raw)).toBe(true);
  });
});

describe('lent chunks (lentChunks) of an uncompressed sparse file', () => {
  it('hold the image until the next chunk is asked for, from a few reused buffers', async () => {
    const src = await openImage(p('img.simg'), { hash: true });
    if (!(src instanceof HashedSource)) throw new Error('not a HashedSource');
    const out = Buffer.alloc(src.size);
    const buffers = new Set<ArrayBufferLike>();
    let data = 0;
    for await (const c of src.lentChunks()) {
      if (c.kind === 'data') {
        // An asynchronous consumer (a file write): reads in flight complete meanwhile, into other buffers only.
        await new Promise<void>((resolve) => setImmediate(resolve));
        await new Promise<void>((resolve) => setImmediate(resolve));
        out.set(c.bytes, c.offset); // used before asking for the next chunk, as a lent chunk must be
        buffers.add(c.bytes.buffer);
        data++;
      } else if (c.kind === 'fill') for (let i = 0; i < c.length; i += 4) out.writeUInt32LE(c.value >>> 0, c.offset + i);
    }
    expect(out.subarray(0, raw.length).equals(raw)).toBe(true);
    expect(await src.sha256()).toBe(createHash('sha256').update(out).digest('hex'));
    expect(data).toBeGreaterThan(4);
    expect(buffers.size).toBeLessThanOrEqual(3); // READS_IN_FLIGHT
  });
});
