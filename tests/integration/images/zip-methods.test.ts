// Zip entries compressed with bzip2 (12), zstd (93) and xz (95) are read through the image decoders: a bzip2 zip made
// by Python's zipfile, zstd and xz zips assembled here around streams made by the Debian `zstd` and `xz` tools.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openImage } from '../../../src/images/index.js';
import { expand, randomImage, tempDir } from './helpers.js';

const t = tempDir('fs-images-zipm-');
afterAll(() => t.cleanup());
const p = (name: string): string => join(t.dir, name);
let raw: Buffer;

/** A one-entry zip: local header, the given (already compressed) data, central directory, end record. */
function zipOf(name: string, method: number, data: Buffer, size: number, crc: number): Buffer {
  const n = Buffer.from(name);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(63, 4); // version needed: 6.3 (zstd, xz)
  local.writeUInt16LE(method, 8);
  local.writeUInt16LE(0x21, 12); // 1980-01-01
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(size, 22);
  local.writeUInt16LE(n.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(63, 4);
  central.writeUInt16LE(63, 6);
  central.writeUInt16LE(method, 10);
  central.writeUInt16LE(0x21, 14);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(data.length, 20);
  central.writeUInt32LE(size, 24);
  central.writeUInt16LE(n.length, 28);
  const cdAt = local.length + n.length + data.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + n.length, 12);
  end.writeUInt32LE(cdAt, 16);
  return Buffer.concat([local, n, data, central, n, end]);
}

beforeAll(() => {
  raw = randomImage(33, 900, 0);
  writeFileSync(p('img.raw'), raw);
  execFileSync('img2simg', [p('img.raw'), p('img.simg')]);
  execFileSync('sh', ['-c', 'xz -kf -T1 img.raw && zstd -qf img.raw && xz -kf -T1 img.simg'], { cwd: t.dir });
  execFileSync('python3', ['-c', [
    'import zipfile, sys',
    "z = zipfile.ZipFile(sys.argv[1], 'w', compression=zipfile.ZIP_BZIP2)",
    "z.write(sys.argv[2], 'system.img')",
    'z.close()',
  ].join('\n'), p('bz.zip'), p('img.raw')]);
  const crc = crc32(raw);
  writeFileSync(p('xz.zip'), zipOf('system.img', 95, readFileSync(p('img.raw.xz')), raw.length, crc));
  writeFileSync(p('zst.zip'), zipOf('system.img', 93, readFileSync(p('img.raw.zst')), raw.length, crc));
  const simg = readFileSync(p('img.simg'));
  writeFileSync(p('simgxz.zip'), zipOf('system.simg', 95, readFileSync(p('img.simg.xz')), simg.length, crc32(simg)));
  writeFileSync(p('short.zip'), zipOf('system.img', 93, readFileSync(p('img.raw.zst')), raw.length + 4096, crc));
  writeFileSync(p('long.zip'), zipOf('system.img', 95, readFileSync(p('img.raw.xz')), raw.length - 4096, crc));
}, 120_000);

describe('zip entries compressed with bzip2, zstd and xz', () => {
  it('python3 zipfile really wrote method 12 (bzip2)', () => {
    const z = readFileSync(p('bz.zip'));
    expect(z.readUInt16LE(8)).toBe(12);
  });

  it.each([
    ['bz.zip', 'raw in zip'],
    ['xz.zip', 'raw in zip'],
    ['zst.zip', 'raw in zip'],
    ['simgxz.zip', 'sparse in zip'],
  ])('%s reads back as the original bytes (%s)', async (name, kind) => {
    const src = await openImage(p(name));
    expect(src.description).toContain(kind);
    expect(src.size).toBe(raw.length);
    expect((await expand(src)).equals(raw)).toBe(true);
    expect(await src.sha256()).toBe(createHash('sha256').update(raw).digest('hex'));
  });

  it('an entry that gives fewer bytes than it declares fails as truncated or wrong', async () => {
    const src = await openImage(p('short.zip'));
    await expect(expand(src)).rejects.toMatchObject({ code: 'image_invalid' });
  });

  it('an entry that gives more bytes than it declares is stopped as soon as it does', async () => {
    const src = await openImage(p('long.zip'));
    await expect(expand(src)).rejects.toMatchObject({ code: 'image_invalid', message: expect.stringMatching(/more than the \d+ bytes declared/) as unknown });
  });
});
