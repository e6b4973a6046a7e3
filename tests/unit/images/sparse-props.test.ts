// Property tests: sparse write/read and resparse round trips, and the fill finder, over random block patterns.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BlockSource, Chunk } from '../../../src/contracts/source.js';
import { memoryByteSource } from '../../../src/images/byte-source.js';
import { scanFills } from '../../../src/images/hole-scan.js';
import { openByteSource } from '../../../src/images/open.js';
import { resparse, writeSparse } from '../../../src/images/index.js';

const BS = 4096;

/** Blocks described as: 0 zero, 1 repeated word, 2 random data. */
const blockPattern = fc.array(
  fc.record({ kind: fc.integer({ min: 0, max: 2 }), run: fc.integer({ min: 1, max: 6 }), word: fc.integer({ min: 0, max: 0xffffffff }) }),
  { minLength: 1, maxLength: 25 },
);

function build(pattern: { kind: number; run: number; word: number }[], tail: number): Buffer {
  const blocks = pattern.reduce((s, p) => s + p.run, 0);
  const out = Buffer.alloc(blocks * BS + tail);
  let b = 0;
  for (const p of pattern) {
    for (let i = b * BS; i < (b + p.run) * BS; i += 4) {
      if (p.kind === 1) out.writeUInt32LE(p.word, i);
      else if (p.kind === 2) out.writeUInt32LE((Math.imul(i + 1, 2654435761) ^ p.word) >>> 0, i);
    }
    b += p.run;
  }
  for (let i = blocks * BS; i < out.length; i++) out[i] = (i * 7 + 3) & 0xff;
  return out;
}

async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const b of it) parts.push(b);
  return Buffer.concat(parts);
}

/** Apply a sparse file onto `target` as a device would: data and fills written, DONT_CARE left as it is. */
async function applySparse(sparse: Uint8Array, target: Buffer): Promise<BlockSource> {
  const src = await openByteSource(memoryByteSource(sparse, 'piece'), { name: 'piece', hash: false, chain: [] });
  expect(src.description).toContain('sparse');
  for await (const c of src.chunks()) applyChunk(c, target);
  return src;
}

function applyChunk(c: Chunk, target: Buffer): void {
  if (c.kind === 'data') target.set(c.bytes, c.offset);
  else if (c.kind === 'fill') for (let i = 0; i < c.length; i += 4) target.writeUInt32LE(c.value >>> 0, c.offset + i);
}

describe('sparse round trips', () => {
  it('raw → writeSparse → read gives the image back (last block zero-padded)', async () => {
    await fc.assert(
      fc.asyncProperty(blockPattern, fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 1000, max: 70000 }), async (pattern, tail, slice) => {
        const raw = build(pattern, tail);
        const src = await openByteSource(memoryByteSource(raw, 'raw', slice), { name: 'raw', hash: true, chain: [] });
        const sparse = await collect(writeSparse(src));
        const out = Buffer.alloc(Math.ceil(raw.length / BS) * BS, 0xaa);
        const back = await applySparse(sparse, out);
        expect(back.size).toBe(out.length);
        expect(out.subarray(0, raw.length).equals(raw)).toBe(true);
        expect(out.subarray(raw.length).every((x) => x === 0)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('resparse pieces stay within the limit, fill 7/8 of it, keep total_blks and rebuild the image', async () => {
    await fc.assert(
      fc.asyncProperty(blockPattern, fc.integer({ min: 0, max: 3 }), fc.integer({ min: 9, max: 40 }), fc.boolean(), async (pattern, tailBlocks, limitBlocks, viaStream) => {
        const raw = build(pattern, tailBlocks * 100);
        const max = limitBlocks * BS + 64;
        const bytes = memoryByteSource(raw, 'raw', 8192);
        const src = await openByteSource(viaStream ? { ...bytes, readAt: undefined } : bytes, { name: 'raw', hash: false, chain: [] });
        expect(src.readAt !== undefined).toBe(!viaStream);
        const total = Math.ceil(raw.length / BS);
        const out = Buffer.alloc(total * BS, 0xaa);
        const lengths: number[] = [];
        for await (const piece of resparse(src, max, { memoryLimit: 3 * BS })) {
          const b = await collect(piece.bytes());
          expect(b.length).toBe(piece.length);
          expect(b.length).toBeLessThanOrEqual(max);
          expect(b.readUInt32LE(16)).toBe(total); // every piece keeps total_blks
          lengths.push(b.length);
          await applySparse(b, out);
        }
        for (const l of lengths.slice(0, -1)) expect(l).toBeGreaterThanOrEqual((max * 7) / 8);
        expect(out.subarray(0, raw.length).equals(raw)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('skips stay skips through resparse (DONT_CARE leaves the device as it is)', async () => {
    const chunks: Chunk[] = [
      { kind: 'data', offset: 0, bytes: new Uint8Array(BS).fill(1) },
      { kind: 'skip', offset: BS, length: 10 * BS },
      { kind: 'fill', offset: 11 * BS, length: 2 * BS, value: 0x01020304 },
    ];
    const src: BlockSource = {
      size: 13 * BS, dataBytes: BS, exact: true, description: 'chunks', blockSize: BS, reopenable: true,
      async *chunks() {
        yield* chunks;
      },
      sha256: () => Promise.resolve(''),
    };
    const pieces = [];
    for await (const piece of resparse(src, 1 << 20)) pieces.push(await collect(piece.bytes()));
    expect(pieces).toHaveLength(1);
    const out = Buffer.alloc(13 * BS, 0xee);
    await applySparse(pieces[0] ?? new Uint8Array(0), out);
    expect(out.subarray(BS, 11 * BS).every((x) => x === 0xee)).toBe(true);
    expect(out.readUInt32LE(11 * BS)).toBe(0x01020304);
  });
});

describe('resparse edges', () => {
  it('an image that is all DONT_CARE still gives one valid piece', async () => {
    const src: BlockSource = {
      size: 100 * BS, dataBytes: 0, exact: true, description: 'holes', blockSize: BS, reopenable: true,
      async *chunks() {
        yield { kind: 'skip', offset: 0, length: 100 * BS } satisfies Chunk;
      },
      sha256: () => Promise.resolve(''),
    };
    const pieces = [];
    for await (const piece of resparse(src, 1 << 16)) pieces.push(await collect(piece.bytes()));
    expect(pieces).toHaveLength(1);
    const piece = pieces[0] ?? Buffer.alloc(0);
    expect(piece.readUInt32LE(16)).toBe(100);
    const out = Buffer.alloc(100 * BS, 0x5a);
    await applySparse(piece, out);
    expect(out.every((x) => x === 0x5a)).toBe(true);
  });

  it('refuses a piece limit smaller than one block can travel in', async () => {
    const src = await openByteSource(memoryByteSource(Buffer.alloc(BS, 1), 'one'), { name: 'one', hash: false, chain: [] });
    await expect(resparse(src, BS).next()).rejects.toMatchObject({ code: 'too_large' });
  });
});

describe('fill finder', () => {
  it('marks exactly the 4096-byte blocks of one repeated word as fills and covers every byte', () => {
    fc.assert(
      fc.property(blockPattern, fc.integer({ min: 0, max: 4095 }), (pattern, tail) => {
        const raw = build(pattern, tail);
        const out: Chunk[] = [];
        scanFills(raw, 8192, out);
        let pos = 8192;
        const rebuilt = Buffer.alloc(raw.length);
        for (const c of out) {
          expect(c.offset).toBe(pos);
          const len = c.kind === 'data' ? c.bytes.length : c.kind === 'fill' ? c.length : -1;
          if (c.kind === 'fill') {
            expect(c.length % BS).toBe(0);
            for (let i = 0; i < c.length; i += 4) rebuilt.writeUInt32LE(c.value, c.offset - 8192 + i);
          } else if (c.kind === 'data') {
            rebuilt.set(c.bytes, c.offset - 8192);
            // no whole block inside a data run is periodic
            for (let o = 0; o + BS <= c.bytes.length; o += BS) {
              const blk = Buffer.from(c.bytes.subarray(o, o + BS));
              expect(blk.subarray(4).equals(blk.subarray(0, BS - 4))).toBe(false);
            }
          }
          pos += len;
        }
        expect(pos).toBe(8192 + raw.length);
        expect(rebuilt.equals(raw)).toBe(true);
        const fillBlocks = pattern.filter((p) => p.kind !== 2).reduce((s, p) => s + p.run, 0);
        const found = out.filter((c) => c.kind === 'fill').reduce((s, c) => s + (c.kind === 'fill' ? c.length : 0), 0) / BS;
        expect(found).toBeGreaterThanOrEqual(fillBlocks);
      }),
      { numRuns: 200 },
    );
  });
});
