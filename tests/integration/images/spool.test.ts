// Compressed raw images whose size their format does not record (bzip2, here) are decoded once into a sparse spool
// file: exact size, proven whole before anything is written, reused for the same file, and never left half-made.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodesToSize, openImage } from '../../../src/images/index.js';
import { SPOOL_KEEP } from '../../../src/images/spool.js';
import { expand, tempDir } from './helpers.js';

const t = tempDir();
afterAll(() => t.cleanup());
const p = (name: string): string => join(t.dir, name);

function bz2Image(name: string, data: Buffer): string {
  writeFileSync(p(name), data);
  execFileSync('bzip2', ['-kf', p(name)]);
  return p(`${name}.bz2`);
}

describe('spooling a bzip2 raw image', () => {
  const data = Buffer.concat([randomBytes(1 << 20), Buffer.alloc(8 << 20), randomBytes(512 << 10)]);

  it('decodes once into a sparse file: exact size, the same bytes, progress reported', async () => {
    const image = bz2Image('a.img', data);
    const spoolDir = p('spool-a');
    const seen: number[] = [];
    const src = await openImage(image, { spoolDir, onPrepare: (b) => seen.push(b) });
    expect(src.size).toBe(data.length);
    expect(src.exact || src.dataBytes <= data.length).toBe(true);
    expect((await expand(src)).equals(data)).toBe(true);
    expect(seen.at(-1)).toBe(data.length);
    const files = readdirSync(spoolDir);
    expect(files).toHaveLength(1);
    const st = statSync(join(spoolDir, files[0]!));
    expect(st.size).toBe(data.length);
    expect(st.blocks * 512).toBeLessThan(data.length / 2); // the 8 MiB of zeros are a hole
    expect(st.mode & 0o077).toBe(0);
  });

  it('reuses the spool for the same file, and makes a new one when the file changed', async () => {
    const image = bz2Image('b.img', data);
    const spoolDir = p('spool-b');
    let decodes = 0;
    await openImage(image, { spoolDir, onPrepare: () => decodes++ });
    const first = decodes;
    await openImage(image, { spoolDir, onPrepare: () => decodes++ });
    expect(decodes).toBe(first);
    const changed = Buffer.from(data);
    changed[0] = (changed[0] ?? 0) ^ 1;
    bz2Image('b.img', changed);
    const src = await openImage(image, { spoolDir, onPrepare: () => decodes++ });
    expect(decodes).toBeGreaterThan(first);
    expect((await expand(src)).equals(changed)).toBe(true);
  });

  it('refuses a truncated file before anything could be written, leaving no spool behind', async () => {
    const image = bz2Image('c.img', data);
    const whole = readFileSync(image);
    writeFileSync(image, whole.subarray(0, whole.length - 2000));
    const spoolDir = p('spool-c');
    await expect(openImage(image, { spoolDir })).rejects.toMatchObject({ code: 'image_invalid', message: expect.stringMatching(/truncated/) });
    expect(readdirSync(spoolDir)).toEqual([]);
  });

  it(`keeps the ${SPOOL_KEEP} most recent spools`, async () => {
    const spoolDir = p('spool-d');
    for (let i = 0; i < SPOOL_KEEP + 2; i++) await openImage(bz2Image(`d${i}.img`, randomBytes(64 << 10)), { spoolDir });
    expect(readdirSync(spoolDir).filter((n) => n.endsWith('.raw'))).toHaveLength(SPOOL_KEEP);
  });
});

describe('decodesToSize', () => {
  it('is true only for a raw image inside gzip or bzip2', async () => {
    const raw = Buffer.concat([randomBytes(4096), Buffer.alloc(65536)]);
    writeFileSync(p('e.img'), raw);
    execFileSync('sh', ['-c', `cd ${t.dir} && bzip2 -kf e.img && gzip -kf e.img && xz -kf -T1 e.img`]);
    expect(await decodesToSize(p('e.img.bz2'))).toBe(true);
    expect(await decodesToSize(p('e.img.gz'))).toBe(true);
    expect(await decodesToSize(p('e.img.xz'))).toBe(false);
    expect(await decodesToSize(p('e.img'))).toBe(false);
    execFileSync('sh', ['-c', `cd ${t.dir} && img2simg e.img e.simg && gzip -kf e.simg`]);
    expect(await decodesToSize(p('e.simg.gz'))).toBe(false);
    expect(await decodesToSize(p('missing.bz2'))).toBe(false);
  });
});
