// Compressed raw images whose size is not known cheaply (bzip2; gzip past what ISIZE can say) pass only their cheap
// checks in checkImage, then are decoded once into a sparse spool file: exact size and hash, proven whole before
// anything is written, shared by every open of the batch, never left half-made, deleted on release.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { checkImage, decodeCounts, type PreparedImage } from '../../../src/images/index.js';
import type { ImagePrepareProgress } from '../../../src/contracts/plan.js';
import { expand, tempDir } from './helpers.js';

const t = tempDir();
afterAll(() => t.cleanup());
const p = (name: string): string => join(t.dir, name);

function bz2Image(name: string, data: Buffer): string {
  writeFileSync(p(name), data);
  execFileSync('bzip2', ['-kf', p(name)]);
  return p(`${name}.bz2`);
}

async function prepared(image: string, spoolDir: string): Promise<PreparedImage> {
  const c = await checkImage(image, { spoolDir, reserveBytes: 0 });
  if (!c.prepare) throw new Error(`${image} opened without a long pass`);
  return c.prepare;
}

describe('checkImage and the spool', () => {
  const data = Buffer.concat([randomBytes(1 << 20), Buffer.alloc(8 << 20), randomBytes(512 << 10)]);

  it('defers a bzip2 raw image: the stage says the stream is checked whole; one decode gives size, bytes and hash', async () => {
    const image = bz2Image('a.img', data);
    const spoolDir = p('spool-a');
    const before = decodeCounts().bzip2;
    const prep = await prepared(image, spoolDir);
    expect(prep.stage).toBe('Checking the bzip2 stream is whole before writing');
    expect(prep.note).toMatch(/bzip2 does not record the expanded size/i);
    // The cheap checks read the first block only.
    expect(decodeCounts().bzip2.wholePasses).toBe(before.wholePasses);
    const seen: ImagePrepareProgress[] = [];
    const src = await prep.open({ onPrepare: (x) => seen.push(x) });
    expect(src.size).toBe(data.length);
    expect((await expand(src)).equals(data)).toBe(true);
    expect(await src.sha256()).toBe(createHash('sha256').update(data).digest('hex'));
    expect(seen.at(-1)).toMatchObject({ stage: prep.stage, bytes: data.length, fraction: 1 });
    const st = statSync(prep.spoolPath);
    expect(st.size).toBe(data.length);
    expect(st.blocks * 512).toBeLessThan(data.length / 2); // the 8 MiB of zeros are a hole
    expect(st.mode & 0o777).toBe(0o600);
    expect(statSync(spoolDir).mode & 0o077).toBe(0);
    // One full decode, whatever opened it again (a second job, a retry, a verify).
    await prep.open();
    await expand(await prep.open());
    expect(decodeCounts().bzip2.wholePasses - before.wholePasses).toBe(1);
    await prep.release();
    expect(readdirSync(spoolDir)).toEqual([]);
  });

  it('decodes once for concurrent opens; cancelling one of them does not stop the decode for the other', async () => {
    const image = bz2Image('b.img', Buffer.concat([data, randomBytes(4 << 20)]));
    const prep = await prepared(image, p('spool-b'));
    const before = decodeCounts().bzip2.wholePasses;
    const stop = new AbortController();
    const second = prep.open();
    // The first is cancelled once the shared decode runs.
    const first = prep.open({ signal: stop.signal, onPrepare: () => stop.abort() });
    await expect(first).rejects.toMatchObject({ code: 'cancelled' });
    expect((await second).size).toBe(data.length + (4 << 20));
    expect(decodeCounts().bzip2.wholePasses - before).toBe(1);
    await prep.release();
  });

  it('a cancel of the only open stops the decode and leaves no file', async () => {
    const big = Buffer.concat([randomBytes(8 << 20), Buffer.alloc(32 << 20)]);
    const image = bz2Image('c.img', big);
    const spoolDir = p('spool-c');
    const prep = await prepared(image, spoolDir);
    const stop = new AbortController();
    const opening = prep.open({ signal: stop.signal, onPrepare: () => stop.abort() });
    await expect(opening).rejects.toMatchObject({ code: 'cancelled' });
    await prep.release();
    expect(readdirSync(spoolDir)).toEqual([]);
  });

  it('refuses a truncated file before anything could be written, leaving no spool behind', async () => {
    const image = bz2Image('d.img', data);
    const whole = readFileSync(image);
    writeFileSync(image, whole.subarray(0, whole.length - 2000));
    const spoolDir = p('spool-d');
    const prep = await prepared(image, spoolDir);
    await expect(prep.open()).rejects.toMatchObject({ code: 'image_invalid', message: expect.stringMatching(/truncated/) });
    expect(readdirSync(spoolDir)).toEqual([]);
  });

  it('refuses a bad bzip2 header at once, before any job could exist', async () => {
    const image = bz2Image('e.img', data);
    const whole = readFileSync(image);
    whole.fill(0x55, 20, 400); // inside the first block (the stream and block magic stay)
    writeFileSync(image, whole);
    await expect(checkImage(image, { spoolDir: p('spool-e') })).rejects.toMatchObject({ code: 'image_invalid' });
  });

  it('stops the spool past the largest target with image_too_large', async () => {
    const image = bz2Image('f.img', data);
    const c = await checkImage(image, { spoolDir: p('spool-f'), maxBytes: 4 << 20, reserveBytes: 0 });
    await expect(c.prepare?.open()).rejects.toMatchObject({ code: 'image_too_large' });
    expect(readdirSync(p('spool-f'))).toEqual([]);
  });

  it('refuses to spool when the disk would be left with less than the reserve, saying so', async () => {
    const image = bz2Image('g.img', data);
    const c = await checkImage(image, { spoolDir: p('spool-g'), reserveBytes: Number.MAX_SAFE_INTEGER });
    await expect(c.prepare?.open()).rejects.toMatchObject({ code: 'image_too_large', message: expect.stringMatching(/Not enough free disk space in .*spool-g/) });
  });
});

describe('which images checkImage defers', () => {
  const raw = Buffer.concat([randomBytes(64 << 10), Buffer.alloc(1 << 20)]);

  it('opens xz and zstd (sizes from the index and frame headers), a small gzip (ISIZE), raw and sparse-in-gzip at once', async () => {
    writeFileSync(p('h.img'), raw);
    execFileSync('sh', ['-c', `cd ${t.dir} && xz -kf -T1 h.img && zstd -qf h.img -o h.img.zst && gzip -kf h.img && img2simg h.img h.simg && gzip -kf h.simg`]);
    for (const name of ['h.img', 'h.img.xz', 'h.img.zst', 'h.img.gz', 'h.simg.gz']) {
      const c = await checkImage(p(name), { spoolDir: p('spool-h') });
      expect(c.source?.size, name).toBe(raw.length);
    }
    expect(existsSync(p('spool-h'))).toBe(false);
  });

  it('defers a gzip whose ISIZE cannot be trusted, saying why; a zstd stream without content sizes too', async () => {
    const big = randomBytes(5 << 20); // 5 MiB of deflate data could expand past 4 GiB
    writeFileSync(p('i.img'), big);
    writeFileSync(p('i.img.gz'), gzipSync(big, { level: 1 }));
    const c = await checkImage(p('i.img.gz'), { spoolDir: p('spool-i') });
    expect(c.prepare?.stage).toBe('Decompressing to learn the size');
    expect(c.prepare?.note).toMatch(/modulo 4 GiB/);
    execFileSync('sh', ['-c', `cd ${t.dir} && cat h.img | zstd -q --no-content-size > j.img.zst`]);
    const z = await checkImage(p('j.img.zst'), { spoolDir: p('spool-i') });
    expect(z.prepare?.note).toMatch(/zstd frames do not record/);
    expect((await z.prepare?.open())?.size).toBe(raw.length);
    await z.prepare?.release();
  });

  it('does not take the ISIZE of a multi-member gzip whose last member is small', async () => {
    writeFileSync(p('k.img.gz'), Buffer.concat([gzipSync(randomBytes(256 << 10)), gzipSync(Buffer.alloc(100))]));
    const c = await checkImage(p('k.img.gz'), { spoolDir: p('spool-k'), reserveBytes: 0 });
    expect(c.prepare?.note).toMatch(/does not fit its compressed data/);
    expect((await c.prepare?.open())?.size).toBe((256 << 10) + 100);
    await c.prepare?.release();
  });
});
