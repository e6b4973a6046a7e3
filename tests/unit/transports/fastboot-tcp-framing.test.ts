// Fastboot TCP: FBnn handshake and 8-byte big-endian framing, including frames split at any byte.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameDecoder, decodeFrameHeader, encodeFrameHeader, encodeHandshake, negotiateVersion, parseHandshake } from '../../../src/transports/fastboot-tcp-framing.js';

describe('handshake', () => {
  it('is FB and two decimal digits; the lower version wins', () => {
    expect(new TextDecoder().decode(encodeHandshake(1))).toBe('FB01');
    expect(parseHandshake(new TextEncoder().encode('FB01'))).toBe(1);
    expect(parseHandshake(new TextEncoder().encode('FB17'))).toBe(17);
    expect(parseHandshake(new TextEncoder().encode('FBx1'))).toBeUndefined();
    expect(parseHandshake(new TextEncoder().encode('XB01'))).toBeUndefined();
    expect(negotiateVersion(1, 17)).toBe(1);
    expect(negotiateVersion(3, 2)).toBe(2);
  });
});

describe('framing', () => {
  it('encodes lengths big-endian in 8 bytes', () => {
    expect([...encodeFrameHeader(0x0102030405)]).toEqual([0, 0, 0, 1, 2, 3, 4, 5]);
    expect(decodeFrameHeader(encodeFrameHeader(2 ** 40 + 7))).toBe(2 ** 40 + 7);
  });

  it('decodes any sequence of messages however the stream is cut', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 20 }),
        (messages, cuts) => {
          const wire: number[] = [];
          for (const m of messages) wire.push(...encodeFrameHeader(m.length), ...m);
          const out: Uint8Array[] = [];
          let cur: number[] = [];
          const dec = new FrameDecoder((b) => cur.push(...b), () => {
            out.push(Uint8Array.from(cur));
            cur = [];
          });
          const bytes = Uint8Array.from(wire);
          let off = 0;
          let i = 0;
          while (off < bytes.length) {
            const n = cuts[i++ % cuts.length] ?? 1;
            dec.push(bytes.subarray(off, off + n));
            off += n;
          }
          expect(out.map((m) => [...m])).toEqual(messages.map((m) => [...m]));
          expect(dec.midMessage).toBe(false);
        },
      ),
    );
  });
});
