// Our sparse reader, writer and resparse against AOSP's img2simg/simg2img on random images with holes and fills.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openImage, resparse, writeSparse } from '../../../src/images/index.js';
import { collect, expand, randomImage, tempDir } from './helpers.js';

const t = tempDir();
afterAll(() => t.cleanup());
const p = (name: string): string => join(t.dir, name);

describe('sparse images against img2simg/simg2img', () => {
  it.each([
    [1, 300, 0],
    [2, 1000, 0],
    [3, 257, 1234],
  ])('reads img2simg output exactly as simg2img expands it (seed %i)', async (seed, blocks, tail) => {
    const raw = randomImage(seed, blocks, tail);
    writeFileSync(p(`in${seed}.raw`), raw);
    execFileSync('img2simg', [p(`in${seed}.raw`), p(`in${seed}.simg`)]);
    execFileSync('simg2img', [p(`in${seed}.simg`), p(`ref${seed}.raw`)]);
    const ref = readFileSync(p(`ref${seed}.raw`));
    const src = await openImage(p(`in${seed}.simg`));
    expect(src.description).toContain('sparse');
    expect(src.exact).toBe(true);
    const got = await expand(src);
    expect(got.equals(ref)).toBe(true);
    expect(await src.sha256()).toBe(createHash('sha256').update(ref).digest('hex'));
  });

  it('writes a sparse file simg2img expands back to the raw image (fills found in raw data)', async () => {
    const raw = randomImage(7, 600, 0);
    writeFileSync(p('w.raw'), raw);
    const src = await openImage(p('w.raw'));
    const sparse = await collect(writeSparse(src));
    writeFileSync(p('w.simg'), sparse);
    execFileSync('simg2img', [p('w.simg'), p('w.back')]);
    expect(readFileSync(p('w.back')).equals(raw)).toBe(true);
    expect(sparse.length).toBeLessThan(raw.length); // fills travel as 16-byte chunks
  });

  it.each([
    ['raw file (readAt)', 'r.raw', false],
    ['sparse file (readAt)', 'r.simg', false],
    ['xz stream (buffered)', 'r.raw.xz', true],
  ])('resparses a %s into pieces simg2img accepts one by one and that rebuild the image', async (_l, name, xz) => {
    const raw = randomImage(11, 2000, 0);
    writeFileSync(p('r.raw'), raw);
    execFileSync('img2simg', [p('r.raw'), p('r.simg')]);
    if (xz) execFileSync('xz', ['-k', '-f', '-T1', p('r.raw')]);
    const src = await openImage(p(name));
    const max = 1 << 20;
    const names: string[] = [];
    for await (const piece of resparse(src, max, { memoryLimit: 256 << 10 })) {
      const bytes = await collect(piece.bytes());
      expect(bytes.length).toBe(piece.length);
      expect(bytes.length).toBeLessThanOrEqual(max);
      const f = p(`piece${piece.index}`);
      writeFileSync(f, bytes);
      names.push(f);
      execFileSync('simg2img', [f, p(`single${piece.index}`)]); // each piece alone is valid
    }
    expect(names.length).toBeGreaterThan(2);
    const sizes = names.map((n) => readFileSync(n).length);
    for (const s of sizes.slice(0, -1)) expect(s).toBeGreaterThanOrEqual((max * 7) / 8);
    execFileSync('simg2img', [...names, p('joined.raw')]);
    expect(readFileSync(p('joined.raw')).equals(raw)).toBe(true);
    expect(await src.sha256()).toBe(createHash('sha256').update(raw).digest('hex'));
  });
});
