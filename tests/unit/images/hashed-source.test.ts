// HashedSource: a stream that breaks because its file was overwritten mid-read says the file changed (issue 15, defect 2).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { openImage } from '../../../src/images/open.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('HashedSource', () => {
  it('a decoder broken by its file being overwritten mid-read fails with image_mismatch, not "invalid data"', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fs-hashed-'));
    dirs.push(dir);
    const path = join(dir, 'text.img.gz');
    // 4 bits a byte: real Huffman blocks (random bytes would deflate to stored blocks, which any new bytes satisfy).
    writeFileSync(path, gzipSync(randomBytes(24 << 20).map((b) => b & 15), { level: 1 }));
    const source = await openImage(path);
    const chunks = source.chunks()[Symbol.asyncIterator]();
    await chunks.next();
    writeFileSync(path, randomBytes(statSync(path).size)); // same size, new bytes: the deflate stream breaks ahead
    let err: unknown;
    try {
      while (!(await chunks.next()).done);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'image_mismatch', message: expect.stringMatching(/text\.img\.gz changed while it was being flashed \(it was written to\)/) });
  });
});
