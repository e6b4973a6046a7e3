// bzip2 through the system libbz2: byte-exact against the bzip2 command, multi-stream files, trailing garbage
// ignored as bzip2 does, and truncated or corrupt files named as such.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { libbz2Decompress, systemLibbz2 } from '../../../src/images/bz2-libbz2.js';

const bzip2 = (data: Buffer): Buffer => execFileSync('bzip2', ['-c'], { input: data, maxBuffer: 1 << 28 });

async function decode(data: Buffer, pieces = 3): Promise<Buffer> {
  const lib = systemLibbz2();
  if (!lib) throw new Error('no system libbz2 (Debian libbz2-1.0)');
  async function* input(): AsyncGenerator<Uint8Array> {
    const step = Math.ceil(data.length / pieces) || 1;
    for (let o = 0; o < data.length; o += step) yield data.subarray(o, o + step);
  }
  const out: Buffer[] = [];
  for await (const b of libbz2Decompress(lib, input(), 'img.bz2')) out.push(Buffer.from(b));
  return Buffer.concat(out);
}

describe('libbz2Decompress', () => {
  const plain = Buffer.concat([randomBytes(700_000), Buffer.alloc(3 << 20), randomBytes(300_000)]);

  it('gives the bytes the bzip2 command compressed, fed in pieces of any size', async () => {
    const packed = bzip2(plain);
    expect((await decode(packed, 1)).equals(plain)).toBe(true);
    expect((await decode(packed, 97)).equals(plain)).toBe(true);
  });

  it('reads concatenated streams (pbzip2) and ignores trailing garbage after the last', async () => {
    const a = randomBytes(100_000);
    const b = Buffer.alloc(200_000, 7);
    expect((await decode(Buffer.concat([bzip2(a), bzip2(b)]))).equals(Buffer.concat([a, b]))).toBe(true);
    expect((await decode(Buffer.concat([bzip2(a), Buffer.from('not a stream at all')]))).equals(a)).toBe(true);
  });

  it('says truncated for a file cut short, and corrupt for a damaged block', async () => {
    const packed = bzip2(plain);
    await expect(decode(packed.subarray(0, packed.length - 1000))).rejects.toMatchObject({ code: 'image_invalid', message: expect.stringMatching(/truncated/) });
    const damaged = Buffer.from(packed);
    for (let i = 2000; i < 2100; i++) damaged[i] = (damaged[i] ?? 0) ^ 0x55;
    await expect(decode(damaged)).rejects.toMatchObject({ code: 'image_invalid', message: expect.stringMatching(/corrupt/) });
    await expect(decode(Buffer.from('BZh9 but not really'))).rejects.toMatchObject({ code: 'image_invalid' });
  });
});

describe('libbz2Decompress for a sniff (head)', () => {
  it('decodes only what the first bytes need: small slices, no block decoded ahead, still the right bytes', async () => {
    const lib = systemLibbz2();
    if (!lib) throw new Error('no system libbz2 (Debian libbz2-1.0)');
    const plain = randomBytes(500_000);
    const packed = execFileSync('bzip2', ['-c', '-1'], { input: plain }); // 100 kB blocks
    const pulled = async (head: boolean): Promise<{ pulls: number; first: Buffer }> => {
      let pulls = 0;
      async function* input(): AsyncGenerator<Uint8Array> {
        for (let o = 0; o < packed.length; o += 16_384) {
          pulls++;
          yield packed.subarray(o, o + 16_384);
        }
      }
      const it = libbz2Decompress(lib, input(), 'img.bz2', head)[Symbol.asyncIterator]();
      const first = Buffer.from((await it.next()).value as Uint8Array);
      await new Promise((r) => setTimeout(r, 50)); // a read-ahead would be under way by now
      const n = pulls;
      await it.return?.(undefined);
      return { pulls: n, first };
    };
    const head = await pulled(true);
    const full = await pulled(false);
    expect(head.first.length).toBeLessThanOrEqual(64 << 10);
    expect(head.first.equals(plain.subarray(0, head.first.length))).toBe(true);
    // The first block is ~100 kB of input (7 slices); without head the decoder has read on into later blocks.
    expect(head.pulls).toBeLessThanOrEqual(8);
    expect(full.pulls).toBeGreaterThan(head.pulls);
  });
});
