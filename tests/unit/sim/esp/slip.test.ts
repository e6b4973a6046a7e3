import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SLIP_END, SlipDecoder, slipEncode } from '../../../../src/sim/esp/slip.js';

describe('SLIP', () => {
  it('round-trips any payloads, however the stream is cut', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 8 }), fc.array(fc.nat(64), { maxLength: 20 }), (frames, cuts) => {
        const wire = Buffer.concat(frames.map((f) => Buffer.from(slipEncode(f))));
        const dec = new SlipDecoder();
        const got: Uint8Array[] = [];
        let at = 0;
        for (const c of cuts) {
          got.push(...dec.push(wire.subarray(at, at + c)));
          at = Math.min(wire.length, at + c);
        }
        got.push(...dec.push(wire.subarray(at)));
        expect(got.map((g) => Buffer.from(g).toString('hex'))).toEqual(frames.map((f) => Buffer.from(f).toString('hex')));
      }),
    );
  });

  it('escapes 0xC0 and 0xDB and never emits a bare 0xC0 inside a frame', () => {
    const enc = slipEncode(Uint8Array.from([0xc0, 0xdb, 0x01]));
    expect(Buffer.from(enc).toString('hex')).toBe('c0dbdcdbdd01c0');
    expect(enc.subarray(1, -1).includes(SLIP_END)).toBe(false);
  });

  it('skips boot text outside frames, empty frames, and drops a frame with a bad escape', () => {
    const dec = new SlipDecoder();
    const text = new TextEncoder().encode('rst:0x1 (POWERON_RESET)\r\n');
    const frames = dec.push(Uint8Array.from([...text, 0xc0, 0xc0, 0x01, 0x02, 0xc0, 0xc0, 0x05, 0xdb, 0x00, 0x06, 0xc0, 0xc0, 0x07, 0xc0]));
    expect(frames.map((f) => Array.from(f))).toEqual([[1, 2], [7]]);
    expect(dec.noise).toBeGreaterThan(text.length);
  });

  it('drops an oversized frame rather than growing without bound', () => {
    const dec = new SlipDecoder(16);
    expect(dec.push(Uint8Array.from([0xc0, ...new Array<number>(40).fill(1), 0xc0, 0xc0, 9, 0xc0]))).toEqual([Uint8Array.from([9])]);
  });
});
