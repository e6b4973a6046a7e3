// The station ↔ block-helper framing: requests and replies round-trip, the decoder copes with any split of the pipe,
// and a stream that is not the helper's is refused.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeRequest, encodeHello, encodeReply, encodeRequest, HelperDecoder, HELPER_MAX_IO, REQUEST_HEADER,
  type HelperOp, type HelperReply,
} from '../../../src/transports/block-helper-protocol.js';

describe('block helper protocol', () => {
  it('encodes a request header of 24 bytes, little-endian, and decodes it back', () => {
    const b = encodeRequest({ op: 'W', device: 2, id: 7, offset: 0x1_0000_0000, length: 4096 });
    expect(b.length).toBe(REQUEST_HEADER);
    expect(b.toString('hex')).toBe('57020000' + '07000000' + '0000000001000000' + '0010000000000000');
    fc.assert(fc.property(
      fc.constantFrom<HelperOp>('W', 'R', 'Z', 'S', 'P', 'C'), fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 0xffffffff }),
      fc.maxSafeNat(), fc.integer({ min: 0, max: HELPER_MAX_IO }),
      (op, device, id, offset, length) => {
        expect(decodeRequest(encodeRequest({ op, device, id, offset, length }))).toEqual({ op, device, id, offset, length });
      }));
  });

  it('refuses requests it cannot frame: a data request over 16 MiB, a device index past 15, negative offsets', () => {
    expect(() => encodeRequest({ op: 'W', device: 0, id: 1, offset: 0, length: HELPER_MAX_IO + 1 })).toThrow(/at most/);
    expect(() => encodeRequest({ op: 'R', device: 16, id: 1, offset: 0, length: 512 })).toThrow(/device index/);
    expect(() => encodeRequest({ op: 'Z', device: 0, id: 1, offset: -512, length: 512 })).toThrow(/non-negative/);
    expect(encodeRequest({ op: 'Z', device: 0, id: 1, offset: 0, length: 2 ** 40 }).readBigUInt64LE(16)).toBe(2n ** 40n);
  });

  it('decodes the hello and replies however the pipe splits them', () => {
    const hello = [{ status: 0, sectorSize: 512, size: 2 ** 33 }, { status: -16, sectorSize: 512, size: 0 }];
    fc.assert(fc.property(
      fc.array(fc.record({ id: fc.nat(), result: fc.integer({ min: -200, max: 1 << 24 }), data: fc.option(fc.uint8Array({ minLength: 1, maxLength: 300 }), { nil: undefined }) }), { maxLength: 8 }),
      fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }),
      (replies, cuts) => {
        const rs: HelperReply[] = replies.map((r) => ({ id: r.id, result: r.result, ...(r.data ? { data: Buffer.from(r.data) } : {}) }));
        const stream = Buffer.concat([encodeHello(hello), ...rs.map(encodeReply)]);
        const d = new HelperDecoder(2);
        const got: HelperReply[] = [];
        let seen: unknown;
        let at = 0;
        for (let i = 0; at < stream.length; i++) {
          const n = cuts[i % cuts.length] ?? 1;
          const out = d.push(stream.subarray(at, at + n));
          if (out.hello) seen = out.hello;
          got.push(...out.replies);
          at += n;
        }
        expect(seen).toEqual(hello);
        expect(got).toEqual(rs);
      }));
  });

  it('copies a reply\'s data straight into the buffer named for its id, across pipe reads', () => {
    const into = new Uint8Array(300);
    const d = new HelperDecoder(1, (id) => (id === 9 ? into : undefined));
    const data = Buffer.alloc(300, 0xab);
    const stream = Buffer.concat([encodeHello([{ status: 0, sectorSize: 512, size: 1 << 20 }]), encodeReply({ id: 9, result: 300, data }), encodeReply({ id: 10, result: 3, data: Buffer.from('xyz') })]);
    const replies: HelperReply[] = [];
    for (let at = 0; at < stream.length; at += 7) replies.push(...d.push(stream.subarray(at, at + 7)).replies);
    expect(replies.map((r) => r.id)).toEqual([9, 10]);
    expect(replies[0]?.data?.buffer).toBe(into.buffer);
    expect(Buffer.from(into).equals(data)).toBe(true);
    expect(Buffer.from(replies[1]?.data ?? []).toString()).toBe('xyz');
  });

  it('refuses a stream that does not start with the helper hello, or lists other devices', () => {
    expect(() => new HelperDecoder(1).push(Buffer.from('Password: '))).toThrow(/hello/);
    expect(() => new HelperDecoder(1).push(encodeHello([{ status: 0, sectorSize: 512, size: 1 }, { status: 0, sectorSize: 512, size: 1 }]))).toThrow(/opened 2 devices, not 1/);
    const d = new HelperDecoder(1);
    d.push(encodeHello([{ status: 0, sectorSize: 512, size: 1 }]));
    const huge = Buffer.alloc(12);
    huge.writeUInt32LE(HELPER_MAX_IO + 1, 8);
    expect(() => d.push(huge)).toThrow(/at most/);
  });
});
