// Sizes read from compressed files' own structure: the gzip trailer's ISIZE only where it cannot be wrong (no wrap
// past 4 GiB possible, a figure one member spanning the file can have), and why not otherwise; gzip header lengths.
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ByteSource } from '../../../src/images/byte-source.js';
import { gzipExpandedSize, gzipHeaderLength } from '../../../src/images/container-size.js';

/** A random-access source over a buffer (a file as the opener sees it). */
function file(b: Buffer): ByteSource {
  return {
    description: 'x.gz',
    size: b.length,
    async *stream() {
      yield b;
    },
    readAt: async (offset, length) => b.subarray(offset, offset + length),
  };
}

/** A gzip header with the optional fields set, then `rest`. */
function header(opts: { extra?: Buffer; name?: string; comment?: string; hcrc?: boolean }): Buffer {
  const flg = (opts.hcrc ? 2 : 0) | (opts.extra ? 4 : 0) | (opts.name !== undefined ? 8 : 0) | (opts.comment !== undefined ? 16 : 0);
  const parts: Buffer[] = [Buffer.from([0x1f, 0x8b, 8, flg, 0, 0, 0, 0, 0, 3])];
  if (opts.extra) parts.push(Buffer.from([opts.extra.length & 0xff, opts.extra.length >> 8]), opts.extra);
  if (opts.name !== undefined) parts.push(Buffer.from(`${opts.name}\0`, 'latin1'));
  if (opts.comment !== undefined) parts.push(Buffer.from(`${opts.comment}\0`, 'latin1'));
  if (opts.hcrc) parts.push(Buffer.from([0, 0]));
  return Buffer.concat(parts);
}

describe('gzipHeaderLength', () => {
  it('adds up FEXTRA, FNAME, FCOMMENT and FHCRC', () => {
    fc.assert(fc.property(
      fc.option(fc.uint8Array({ maxLength: 300 }), { nil: undefined }),
      fc.option(fc.stringMatching(/^[a-z.]{0,40}$/), { nil: undefined }),
      fc.option(fc.stringMatching(/^[a-z ]{0,40}$/), { nil: undefined }),
      fc.boolean(),
      (extra, name, comment, hcrc) => {
        const h = header({ extra: extra ? Buffer.from(extra) : undefined, name, comment, hcrc });
        expect(gzipHeaderLength(Buffer.concat([h, randomBytes(16)]))).toBe(h.length);
      },
    ));
  });

  it('is undefined for a header that does not end within the bytes given, or no gzip magic', () => {
    expect(gzipHeaderLength(header({ name: 'abc' }).subarray(0, 12))).toBeUndefined();
    expect(gzipHeaderLength(Buffer.from('BZh91AY&SY'))).toBeUndefined();
  });

  it('matches what node:zlib writes', () => {
    expect(gzipHeaderLength(gzipSync(Buffer.alloc(10)))).toBe(10);
  });
});

describe('gzipExpandedSize', () => {
  it('takes ISIZE from a small single-member file (its deflate data cannot expand past 4 GiB)', async () => {
    const data = Buffer.concat([randomBytes(100_000), Buffer.alloc(2 << 20)]);
    expect(await gzipExpandedSize(file(gzipSync(data)))).toEqual({ size: data.length });
    expect(await gzipExpandedSize(file(gzipSync(Buffer.alloc(0))))).toEqual({ size: 0 });
  });

  it('does not take it when the deflate data could expand past 4 GiB, and says so', async () => {
    const r = await gzipExpandedSize(file(gzipSync(randomBytes(5 << 20), { level: 1 })));
    expect(r.size).toBeUndefined();
    expect(r).toMatchObject({ why: expect.stringMatching(/modulo 4 GiB/) });
  });

  it('does not take a trailer that no single member spanning the file could have (last member small, or damaged)', async () => {
    const multi = Buffer.concat([gzipSync(randomBytes(200_000)), gzipSync(Buffer.alloc(10))]);
    expect(await gzipExpandedSize(file(multi))).toMatchObject({ why: expect.stringMatching(/does not fit its compressed data/) });
    const damaged = gzipSync(Buffer.alloc(1 << 20));
    damaged.writeUInt32LE(0xfffffff0, damaged.length - 4); // more than deflate's 1032:1 could give
    expect(await gzipExpandedSize(file(damaged))).toMatchObject({ why: expect.stringMatching(/does not fit/) });
  });

  it('says why for a stream that is not a file of its own, or too short for a trailer', async () => {
    expect(await gzipExpandedSize({ description: 'x', async *stream() {} })).toMatchObject({ why: expect.stringMatching(/not a file of its own/) });
    expect(await gzipExpandedSize(file(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3])))).toMatchObject({ why: expect.stringMatching(/too short/) });
  });
});
