// Fastboot UDP packets: header layout, continuation splitting, and which replies answer which request.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FLAG_CONTINUATION, UdpId, answers, decodePacket, encodeInit, encodePacket, splitMessage } from '../../../src/transports/fastboot-udp-packet.js';

describe('udp packets', () => {
  it('lay out id, flags and a big-endian sequence', () => {
    expect([...encodePacket(UdpId.fastboot, FLAG_CONTINUATION, 0x1234, Uint8Array.of(9))]).toEqual([3, 1, 0x12, 0x34, 9]);
    expect(decodePacket(Uint8Array.of(1, 0, 0, 7))).toMatchObject({ id: 1, flags: 0, seq: 7 });
    expect(decodePacket(Uint8Array.of(1, 0, 0))).toBeUndefined();
    expect([...encodeInit(1, 8192)]).toEqual([0, 1, 0x20, 0]);
  });

  it('round-trip', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 100 }), (id, flags, seq, payload) => {
        const p = decodePacket(encodePacket(id, flags, seq, payload));
        expect(p).toBeDefined();
        expect(p?.id).toBe(id);
        expect(p?.flags).toBe(flags);
        expect(p?.seq).toBe(seq);
        expect([...(p?.payload ?? [])]).toEqual([...payload]);
      }),
    );
  });

  it('split messages with continuation on all but the last packet; empty is one empty packet', () => {
    expect(splitMessage(new Uint8Array(0), 508)).toEqual([{ payload: new Uint8Array(0), continuation: false }]);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 1, max: 1500 }), (n, max) => {
        const parts = splitMessage(new Uint8Array(n), max);
        expect(parts.reduce((s, p) => s + p.payload.length, 0)).toBe(n);
        parts.forEach((p, i) => {
          expect(p.payload.length).toBeLessThanOrEqual(max);
          expect(p.continuation).toBe(i < parts.length - 1);
        });
      }),
    );
  });

  it('match replies by sequence, with the same id or an error', () => {
    const req = { id: UdpId.fastboot, seq: 5 };
    expect(answers(req, { id: 3, flags: 0, seq: 5, payload: new Uint8Array() })).toBe(true);
    expect(answers(req, { id: 0, flags: 0, seq: 5, payload: new Uint8Array() })).toBe(true);
    expect(answers(req, { id: 3, flags: 0, seq: 4, payload: new Uint8Array() })).toBe(false);
    expect(answers(req, { id: 1, flags: 0, seq: 5, payload: new Uint8Array() })).toBe(false);
  });
});
