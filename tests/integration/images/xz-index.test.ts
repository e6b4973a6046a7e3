// The xz index read in JavaScript against liblzma's own index parser (lzma-native) on files made by the xz tool.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryByteSource } from '../../../src/images/byte-source.js';
import { readXzIndex } from '../../../src/images/xz-index.js';
import { randomImage, tempDir } from './helpers.js';

const require = createRequire(import.meta.url);
const t = tempDir('fs-xzindex-');
afterAll(() => t.cleanup());
const p = (name: string): string => join(t.dir, name);

interface Lzma {
  parseFileIndex(
    o: { fileSize: number; read(count: number, offset: number, cb: (err: Error | null, b: Buffer | null) => void): void },
    cb: (err: Error | null, info: { uncompressedSize: number; streams: number; blocks: number } | null) => void,
  ): void;
}

/** liblzma's answer for the same bytes (null when it refuses the file). */
function liblzmaIndex(b: Buffer): Promise<{ uncompressedSize: number; streams: number; blocks: number } | null> {
  const lzma = require('lzma-native') as Lzma;
  return new Promise((resolve) => {
    lzma.parseFileIndex({ fileSize: b.length, read: (count, offset, cb) => cb(null, b.subarray(offset, offset + count)) },
      (err, info) => resolve(err || !info ? null : { uncompressedSize: info.uncompressedSize, streams: info.streams, blocks: info.blocks }));
  });
}

const ours = async (b: Buffer): Promise<{ uncompressedSize: number; streams: number; blocks: number }> =>
  readXzIndex(memoryByteSource(b, 'test.xz', 1 << 16));

describe('xz index (JavaScript)', () => {
  const raw = randomImage(11, 300, 77);
  writeFileSync(p('a.raw'), raw);
  execFileSync('xz', ['-kf', '-3', '--block-size=200000', p('a.raw')]); // several blocks
  execFileSync('sh', ['-c', `xz -c -1 ${p('a.raw')} > ${p('b.xz')} && head -c 1000 ${p('a.raw')} | xz -c --check=sha256 > ${p('c.xz')}`]);
  const a = readFileSync(p('a.raw.xz'));
  const b = readFileSync(p('b.xz'));
  const c = readFileSync(p('c.xz'));

  it('gives the sizes liblzma gives: several blocks, concatenated streams, stream padding, an empty stream', async () => {
    const empty = execFileSync('xz', ['-c'], { input: Buffer.alloc(0) });
    const files = [a, b, c, Buffer.concat([a, b, c]), Buffer.concat([a, Buffer.alloc(8), b, Buffer.alloc(4)]), Buffer.concat([empty, c])];
    for (const f of files) {
      const want = await liblzmaIndex(f);
      expect(want).not.toBeNull();
      expect(await ours(f)).toEqual(want);
    }
    expect((await ours(a)).uncompressedSize).toBe(raw.length);
    expect((await ours(a)).blocks).toBeGreaterThan(3);
  });

  it('refuses what liblzma refuses: cut files, a flipped byte in footer, index or header, bad padding', async () => {
    const both = Buffer.concat([a, b]);
    const bad: Buffer[] = [
      both.subarray(0, Math.floor(both.length * 0.7)),
      both.subarray(0, both.length - 4),
      both.subarray(a.length - 100), // the start cut off
      Buffer.concat([a, Buffer.alloc(3)]), // padding not a multiple of 4
    ];
    for (const at of [both.length - 8, both.length - 20, a.length + 7, a.length + 2]) {
      const f = Buffer.from(both);
      f[at] = (f[at] ?? 0) ^ 0x10;
      bad.push(f);
    }
    for (const f of bad) {
      expect(await liblzmaIndex(f)).toBeNull();
      await expect(ours(f)).rejects.toThrow();
    }
  });
});
