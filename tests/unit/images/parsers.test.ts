// Small parsers: magic-byte sniffing, android-info.txt requirements, bmap ranges, manifest schema.
import { describe, expect, it } from 'vitest';
import { parseAndroidInfo, requirementMet } from '../../../src/drivers/fastboot/android-info.js';
import { parseBmap } from '../../../src/images/bmap.js';
import { checkManifest, parseManifestText } from '../../../src/images/plan.js';
import { sniff } from '../../../src/images/sniff.js';
import { entryProblem } from '../../../src/images/zip.js';

const b = (...xs: number[]): Uint8Array => new Uint8Array(xs);

describe('sniff', () => {
  it('knows each format by its magic bytes and calls everything else raw', () => {
    expect(sniff(b(0x3a, 0xff, 0x26, 0xed, 1, 0))).toBe('sparse');
    expect(sniff(b(0x1f, 0x8b, 8, 0))).toBe('gzip');
    expect(sniff(b(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0))).toBe('xz');
    expect(sniff(b(0x28, 0xb5, 0x2f, 0xfd))).toBe('zstd');
    expect(sniff(b(0x42, 0x5a, 0x68, 0x39, 0x31, 0x41, 0x59, 0x26))).toBe('bzip2');
    expect(sniff(b(0x50, 0x4b, 3, 4))).toBe('zip');
    expect(sniff(b(0x42, 0x5a, 0x68, 0x39, 0, 0, 0, 0))).toBe('raw'); // "BZh9" text is not enough
    expect(sniff(b(0x1f, 0x8b, 9))).toBe('raw');
    expect(sniff(b())).toBe('raw');
  });
});

describe('android-info.txt', () => {
  it('maps board to product, splits alternatives and keeps require-for-product', () => {
    const r = parseAndroidInfo('# c\nrequire board=sailfish|marlin\r\nrequire version-bootloader=8996-1\nrequire-for-product:marlin version-baseband=X|Y\njunk line\n');
    expect(r).toEqual([
      { name: 'product', values: ['sailfish', 'marlin'] },
      { name: 'version-bootloader', values: ['8996-1'] },
      { name: 'version-baseband', values: ['X', 'Y'], forProduct: 'marlin' },
    ]);
  });
  it('matches exact values and trailing-* prefixes only', () => {
    const req = { name: 'version-bootloader', values: ['abc', 'v2*'] };
    expect(requirementMet(req.values, 'abc')).toBe(true);
    expect(requirementMet(req.values, 'v2.1')).toBe(true);
    expect(requirementMet(req.values, 'abcd')).toBe(false);
    expect(requirementMet(req.values, undefined)).toBe(false);
  });
});

describe('bmap', () => {
  const xml = (size: number, ranges: string): string =>
    `<bmap version="2.0"><ImageSize>${size}</ImageSize><BlockSize>4096</BlockSize><BlockMap>${ranges}</BlockMap></bmap>`;
  it('turns inclusive block ranges into merged byte ranges clipped to the image', () => {
    expect(parseBmap(xml(40960 + 100, '<Range>3-4</Range><Range chksum="a">0</Range><Range>5</Range><Range>10</Range>'), 40960 + 100)).toEqual([
      { start: 0, end: 4096 },
      { start: 3 * 4096, end: 6 * 4096 },
      { start: 10 * 4096, end: 40960 + 100 },
    ]);
  });
  it('refuses a bmap made for another image size', () => {
    expect(() => parseBmap(xml(8192, '<Range>0</Range>'), 4096)).toThrow(/wrong \.bmap/);
  });
  it('never quotes the file: an <ImageSize> that is not a number is named, not echoed', () => {
    const bad = '<bmap><ImageSize>api_key: SECRETKEY-XYZ</ImageSize><BlockSize>4096</BlockSize></bmap>';
    expect(() => parseBmap(bad, 4096, 'x.bmap')).toThrow('x.bmap: no valid <ImageSize>');
    // A backwards range is named by its numbers, not its tag (whose attributes are file text).
    const backwards = () => parseBmap(xml(40960, '<Range chksum="SECRETKEY-XYZ">5-3</Range>'), 40960, 'x.bmap');
    expect(backwards).toThrow('x.bmap: range 5-3 is backwards');
    expect(backwards).not.toThrow(/SECRETKEY/);
  });
});

describe('zip entry checks', () => {
  it('refuses traversal, absolute names and impossible ratios', () => {
    const e = { size: 100, compressedSize: 100, method: 8, isDirectory: false };
    expect(entryProblem({ ...e, name: 'a/../../b.img' })).toMatch(/unsafe/);
    expect(entryProblem({ ...e, name: '/b.img' })).toMatch(/unsafe/);
    expect(entryProblem({ ...e, name: 'C:/b.img' })).toMatch(/unsafe/);
    expect(entryProblem({ ...e, name: 'b.img', size: 10 * 2 ** 30, compressedSize: 1 << 20 })).toMatch(/zip bomb/);
    expect(entryProblem({ ...e, name: 'b.img', size: 1 << 30, compressedSize: 1 << 20 })).toBeNull(); // 1024:1 is possible
    expect(entryProblem({ ...e, name: 'b.img', method: 14 })).toMatch(/method 14/); // LZMA (not xz): not read
    expect(entryProblem({ ...e, name: 'b.img', method: 93 })).toBeNull(); // zstd, through our decoder
    // xz, zstd and bzip2 expand zeros far beyond 1100:1; their output is held to the declared size instead
    expect(entryProblem({ ...e, name: 'b.img', method: 95, size: 10 * 2 ** 30, compressedSize: 1 << 20 })).toBeNull();
  });
});

describe('manifest schema', () => {
  it('accepts every step kind and YAML', () => {
    const m = parseManifestText('steps:\n  - {op: flash, partition: boot, image: boot.img}\n  - {op: require, name: product, values: [x]}\n  - {op: verify, partition: boot, image: boot.img}\n', 'm');
    expect(m.steps).toHaveLength(3);
  });
  it('names the first problem', () => {
    expect(() => checkManifest({ steps: [{ op: 'set_active', slot: 'c' }] }, 'm')).toThrow(/invalid plan at \/steps\/0/);
    expect(() => checkManifest({ steps: [] }, 'm')).toThrow(/invalid plan/);
    expect(() => parseManifestText('{ nope', 'm')).toThrow(/not valid JSON \(line 1, column 3\)/);
  });
});
