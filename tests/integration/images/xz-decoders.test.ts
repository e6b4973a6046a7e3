// Both xz decoders — the system liblzma through koffi and lzma-native's bundled one — against files made by `xz`:
// identical bytes, and a file cut short or damaged mid-stream fails with a message that says which.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryByteSource } from '../../../src/images/byte-source.js';
import { liblzmaDecompress, systemLiblzma } from '../../../src/images/xz-liblzma.js';
import { lzmaNativeDecompress } from '../../../src/images/xz-stream.js';
import { randomImage, tempDir } from './helpers.js';

const t = tempDir('fs-images-xz-');
afterAll(() => t.cleanup());
let raw: Buffer;
let xz: Buffer;

beforeAll(() => {
  raw = randomImage(5, 1500, 123); // ~6 MiB: several 1 MiB output buffers
  writeFileSync(join(t.dir, 'a.raw'), raw);
  execFileSync('sh', ['-c', 'xz -kf -T1 a.raw && cat a.raw.xz a.raw.xz > twice.xz'], { cwd: t.dir });
  xz = readFileSync(join(t.dir, 'a.raw.xz'));
}, 60_000);

const system = systemLiblzma();
const decoders: [string, (input: AsyncIterable<Uint8Array>, what: string) => AsyncIterable<Uint8Array>][] = [
  ['lzma-native', lzmaNativeDecompress],
];
if (system) decoders.push([`system liblzma ${system.version}`, (input, what) => liblzmaDecompress(system, input, what)]);

async function decode(run: (input: AsyncIterable<Uint8Array>, what: string) => AsyncIterable<Uint8Array>, file: Buffer): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of run(memoryByteSource(file, 'x', 100_000).stream(), 'a.raw.xz')) parts.push(Buffer.from(b)); // lent: copy
  return Buffer.concat(parts);
}

describe('xz decoders', () => {
  it('finds the system liblzma on Linux', () => {
    if (process.platform === 'linux') expect(system?.version).toMatch(/^5\./);
  });

  it.each(decoders)('%s gives the bytes back, concatenated streams too', async (_name, run) => {
    expect((await decode(run, xz)).equals(raw)).toBe(true);
    const twice = readFileSync(join(t.dir, 'twice.xz'));
    expect((await decode(run, twice)).equals(Buffer.concat([raw, raw]))).toBe(true);
  });

  it.each(decoders)('%s: a file cut short mid-stream is reported as truncated', async (_name, run) => {
    await expect(decode(run, xz.subarray(0, Math.floor(xz.length / 2)))).rejects.toMatchObject({
      code: 'image_invalid', message: expect.stringMatching(/xz stream is truncated/) as unknown,
    });
  });

  it.each(decoders)('%s: damaged data is reported as corrupt', async (_name, run) => {
    const bad = Buffer.from(xz);
    for (let i = 2000; i < 2100; i++) bad[i] = (bad[i] ?? 0) ^ 0x5a;
    await expect(decode(run, bad)).rejects.toMatchObject({
      code: 'image_invalid', message: expect.stringMatching(/xz stream is (corrupt|truncated)/) as unknown,
    });
  });
});
