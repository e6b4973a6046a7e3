// Compressed and nested images made by the Debian tools read back to identical bytes; bad inputs fail before writing.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, statSync, truncateSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkFits, openImage, resparse } from '../../../src/images/index.js';
import { collect, expand, makeZip, randomImage, tempDir } from './helpers.js';

const t = tempDir();
afterAll(() => t.cleanup());
const p = (name: string): string => join(t.dir, name);
const sh = (cmd: string): void => {
  execFileSync('sh', ['-c', cmd], { cwd: t.dir });
};
let raw: Buffer;

beforeAll(() => {
  raw = randomImage(21, 700, 100);
  writeFileSync(p('img.raw'), raw);
  execFileSync('img2simg', [p('img.raw'), p('img.simg')]);
  sh('gzip -kf img.raw && xz -kf -T1 img.raw && zstd -qf img.raw && bzip2 -kf img.raw');
  sh('xz -kf -T1 img.simg && zstd -qf img.simg -o img.simg.zst && gzip -kf img.simg');
  makeZip(p('raw.zip'), { 'inner.img': p('img.raw') });
  makeZip(p('stored.zip'), { 'inner.img': p('img.raw') }, true);
  makeZip(p('xzin.zip'), { 'inner.img.xz': p('img.raw.xz') }, true);
}, 180_000); // the Debian tools make a dozen files; slow on a busy machine

describe('formats made by the command-line tools', () => {
  it.each([
    ['img.raw', 'raw'],
    ['img.raw.gz', 'raw in gzip'],
    ['img.raw.xz', 'raw in xz'],
    ['img.raw.zst', 'raw in zstd'],
    ['img.raw.bz2', 'raw in bzip2'],
    ['img.simg.xz', 'sparse in xz'],
    ['img.simg.zst', 'sparse in zstd'],
    ['img.simg.gz', 'sparse in gzip'],
    ['raw.zip', 'raw in zip'],
    ['stored.zip', 'raw in zip'],
    ['xzin.zip', 'raw in xz in zip'],
  ])('%s reads back as the original bytes (%s)', async (name, kind) => {
    const src = await openImage(p(name));
    expect(src.description).toContain(kind);
    const expected = Buffer.concat([raw, Buffer.alloc(src.size - raw.length)]);
    expect(src.size).toBeGreaterThanOrEqual(raw.length);
    const got = await expand(src);
    expect(got.equals(expected)).toBe(true);
    expect(await src.sha256()).toBe(createHash('sha256').update(expected).digest('hex'));
    expect(src.exact).toBe(true);
    expect(src.dataBytes).toBeLessThan(src.size); // zero and fill blocks do not count as data
  });

  it('sniffs by content, not by name', async () => {
    copyFileSync(p('img.raw.xz'), p('looks-raw.img'));
    expect((await openImage(p('looks-raw.img'))).description).toContain('raw in xz');
  });

  it('skips ranges a .bmap leaves out and reads only mapped blocks', async () => {
    const bmap = `<?xml version="1.0" ?><bmap version="2.0"><ImageSize> ${raw.length} </ImageSize><BlockSize> 4096 </BlockSize>
      <BlocksCount> 701 </BlocksCount><MappedBlocksCount> 110 </MappedBlocksCount><BlockMap>
      <Range chksum="x"> 0-99 </Range><Range chksum="y"> 600-609 </Range></BlockMap></bmap>`;
    // auto.raw finds auto.raw.bmap beside it; img.raw.xz is given it explicitly
    writeFileSync(p('auto.raw.bmap'), bmap);
    copyFileSync(p('img.raw'), p('auto.raw'));
    for (const [name, bmapPath] of [['auto.raw', undefined], ['img.raw.xz', p('auto.raw.bmap')]] as const) {
      const src = await openImage(p(name), { bmapPath });
      let skipped = 0;
      for await (const c of src.chunks()) {
        if (c.kind === 'skip') skipped += c.length;
        if (c.kind === 'data') {
          const inMapped = (c.offset < 100 * 4096) || (c.offset >= 600 * 4096 && c.offset < 610 * 4096);
          expect(inMapped).toBe(true);
        }
      }
      expect(skipped).toBe(raw.length - 110 * 4096);
    }
  });
});

describe('validation before writing', () => {
  it('refuses an image larger than its partition', async () => {
    const src = await openImage(p('img.simg'));
    expect(() => checkFits(src, src.size - 1, 'boot')).toThrow(expect.objectContaining({ code: 'image_too_large', message: expect.stringMatching(/holds only/) }));
    expect(() => checkFits(src, src.size, 'boot')).not.toThrow();
  });

  it('reports a missing file as image_not_found', async () => {
    await expect(openImage(p('nope.img'))).rejects.toMatchObject({ code: 'image_not_found' });
  });

  it('refuses sparse chunk sizes that do not add up to total_blks', async () => {
    const b = readFileSync(p('img.simg'));
    b.writeUInt32LE(b.readUInt32LE(16) + 1, 16);
    writeFileSync(p('badsum.simg'), b);
    await expect(openImage(p('badsum.simg'))).rejects.toMatchObject({ code: 'image_invalid', message: expect.stringMatching(/blocks but the header says/) });
  });

  it('refuses an unsupported sparse major version', async () => {
    const b = readFileSync(p('img.simg'));
    b.writeUInt16LE(2, 4);
    writeFileSync(p('major.simg'), b);
    await expect(openImage(p('major.simg'))).rejects.toMatchObject({ code: 'image_invalid', message: expect.stringMatching(/version 2/) });
  });

  it('refuses a truncated sparse file before streaming anything', async () => {
    copyFileSync(p('img.simg'), p('cut.simg'));
    truncateSync(p('cut.simg'), statSync(p('cut.simg')).size - 5000);
    await expect(openImage(p('cut.simg'))).rejects.toMatchObject({ code: 'image_invalid', message: expect.stringMatching(/truncated/) });
  });

  it('finds a truncated xz or zstd file at open time from its index or frame headers', async () => {
    for (const name of ['img.raw.xz', 'img.raw.zst']) {
      copyFileSync(p(name), p(`cut-${name}`));
      truncateSync(p(`cut-${name}`), Math.floor(statSync(p(name)).size * 0.7));
      await expect(openImage(p(`cut-${name}`))).rejects.toMatchObject({ code: 'image_invalid', message: expect.stringMatching(/truncated/) });
    }
  });

  it('fails a truncated gzip stream of a sparse image mid-stream with a message that says so', async () => {
    copyFileSync(p('img.simg.gz'), p('cut.simg.gz'));
    truncateSync(p('cut.simg.gz'), Math.floor(statSync(p('img.simg.gz')).size * 0.6));
    const src = await openImage(p('cut.simg.gz'));
    await expect(expand(src)).rejects.toMatchObject({ code: 'image_invalid', message: expect.stringMatching(/gzip stream is truncated/) });
    // and a resparse of it fails the same way instead of sending a short piece
    const src2 = await openImage(p('cut.simg.gz'));
    await expect((async () => {
      for await (const piece of resparse(src2, 1 << 20)) await collect(piece.bytes());
    })()).rejects.toMatchObject({ code: 'image_invalid' });
  });

  it('refuses zip entries with .. or absolute names', async () => {
    sh(`python3 -c "
import zipfile
with zipfile.ZipFile('evil.zip','w') as z: z.writestr('../../etc/evil.img', b'x'*100)
with zipfile.ZipFile('abs.zip','w') as z: z.writestr('/etc/evil.img', b'x'*100)
"`);
    await expect(openImage(p('evil.zip'))).rejects.toMatchObject({ code: 'image_invalid', message: expect.stringMatching(/unsafe/) });
    await expect(openImage(p('abs.zip'))).rejects.toMatchObject({ code: 'image_invalid', message: expect.stringMatching(/unsafe/) });
  });

  it('refuses a zip entry declaring an absurd expansion (zip bomb)', async () => {
    sh(`python3 -c "
import zipfile
with zipfile.ZipFile('bomb.zip','w', zipfile.ZIP_DEFLATED) as z: z.writestr('bomb.img', b'\\0' * (64 << 20))
"`);
    // deflate of zeros is ~1030:1; rewrite the declared size in the central directory to claim far more
    const b = readFileSync(p('bomb.zip'));
    const cd = b.lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    b.writeUInt32LE(0xfff00000, cd + 24);
    writeFileSync(p('bomb.zip'), b);
    await expect(openImage(p('bomb.zip'))).rejects.toMatchObject({ code: 'image_invalid', message: expect.stringMatching(/zip bomb/) });
  });

  it('refuses a zip with several files as one image, naming them', async () => {
    makeZip(p('two.zip'), { 'a.img': p('img.raw'), 'b.img': p('img.raw') });
    await expect(openImage(p('two.zip'))).rejects.toMatchObject({ code: 'image_invalid', message: expect.stringMatching(/a\.img, b\.img/) });
  });
});

describe('multi-stream and multi-frame files', () => {
  it('reads concatenated xz streams and zstd frames, sizes known up front', async () => {
    sh('cat img.raw.xz img.raw.xz > two.xz && cat img.raw.zst img.raw.zst > two.zst && printf "\\0\\0\\0\\0" >> two.xz');
    for (const name of ['two.xz', 'two.zst']) {
      const src = await openImage(p(name));
      expect(src.size).toBe(2 * raw.length);
      const got = await expand(src);
      expect(got.equals(Buffer.concat([raw, raw]))).toBe(true);
    }
  });

  it('reads a sparse image inside xz inside a zip', async () => {
    makeZip(p('deep.zip'), { 'deep.simg.xz': p('img.simg.xz') }, true);
    const src = await openImage(p('deep.zip'));
    expect(src.description).toContain('sparse in xz in zip');
    const got = await expand(src);
    expect(got.subarray(0, raw.length).equals(raw)).toBe(true);
  });

  it('hash: false leaves sha256() rejecting instead of hanging', async () => {
    const src = await openImage(p('img.raw'), { hash: false });
    await expand(src);
    await expect(src.sha256()).rejects.toThrow(/without hashing/);
  });
});

describe('cancel', () => {
  it.each(['img.raw.xz', 'img.raw.zst', 'img.simg.gz', 'img.simg'])('stops reading %s when the signal aborts', async (name) => {
    const src = await openImage(p(name));
    const ac = new AbortController();
    let seen = 0;
    await expect((async () => {
      for await (const c of src.chunks(ac.signal)) {
        seen++;
        if (c.offset > 0 || seen > 1) ac.abort();
      }
    })()).rejects.toMatchObject({ code: 'cancelled' });
    expect(seen).toBeLessThan(20);
    // the source can be read again afterwards, whole
    expect((await expand(src)).subarray(0, raw.length).equals(raw)).toBe(true);
  });

});

describe('highly compressible input', () => {
  it('expands 64 MiB of zeros from a tiny xz file in bounded slices', async () => {
    sh('head -c 67108864 /dev/zero > zeros.raw && xz -kf -T1 zeros.raw && rm zeros.raw');
    expect(statSync(p('zeros.raw.xz')).size).toBeLessThan(64 << 10);
    const src = await openImage(p('zeros.raw.xz'));
    expect(src.size).toBe(64 << 20);
    let fills = 0;
    let biggest = 0;
    for await (const c of src.chunks()) {
      if (c.kind === 'fill') fills += c.length;
      if (c.kind === 'data') biggest = Math.max(biggest, c.bytes.length);
    }
    expect(fills).toBe(64 << 20); // every block is a zero fill: nothing travels as data
    expect(biggest).toBe(0);
    expect(src.dataBytes).toBe(0);
    expect(src.exact).toBe(true);
  });
});
