// STM32 write planning: blocks for Write Memory (aligned, ≤ 256 bytes, every data byte once), bounds, entry sequences.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { eraseUnits, unitsCovering, STM32_CHIPS } from '../../../../src/drivers/stm32/chips.js';
import { parseEntrySequence } from '../../../../src/drivers/stm32/entry.js';
import { checkBounds, writeBlocks } from '../../../../src/drivers/stm32/image.js';

describe('writeBlocks', () => {
  it('makes 4-aligned blocks of at most 256 bytes that hold every data byte at its address and 0xFF elsewhere', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ gap: fc.integer({ min: 1, max: 600 }), bytes: fc.uint8Array({ minLength: 1, maxLength: 700 }) }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 0, max: 1000 }),
        (parts, start) => {
          let at = 0x0800_0000 + start;
          const segments = parts.map((p) => {
            const s = { address: at, bytes: p.bytes };
            at += p.bytes.length + p.gap;
            return s;
          });
          const blocks = writeBlocks(segments);
          const want = new Map<number, number>();
          for (const s of segments) s.bytes.forEach((b, i) => want.set(s.address + i, b));
          const seen = new Set<number>();
          let prevEnd = 0;
          for (const b of blocks) {
            expect(b.address % 4).toBe(0);
            expect(b.bytes.length % 4).toBe(0);
            expect(b.bytes.length).toBeLessThanOrEqual(256);
            expect(b.address).toBeGreaterThanOrEqual(prevEnd);
            prevEnd = b.address + b.bytes.length;
            b.bytes.forEach((v, i) => {
              const a = b.address + i;
              expect(v).toBe(want.get(a) ?? 0xff);
              if (want.has(a)) seen.add(a);
            });
          }
          expect(seen.size).toBe(want.size);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses data outside the flash or past its end', () => {
    const one = (address: number, n: number) => ({ segments: [{ address, bytes: new Uint8Array(n) }], dataBytes: n, format: 'raw' as const });
    expect(() => checkBounds(one(0x0800_0000, 64 * 1024), 64 * 1024, 'x')).not.toThrow();
    expect(() => checkBounds(one(0x0800_0000, 64 * 1024 + 1), 64 * 1024, 'x')).toThrow(expect.objectContaining({ code: 'image_too_large' }) as Error);
    expect(() => checkBounds(one(0x0000_0000, 4), 64 * 1024, 'x')).toThrow(expect.objectContaining({ code: 'target_unsupported' }) as Error);
  });
});

describe('erase units', () => {
  it('pages on an F1, sectors on an F4', () => {
    const f1 = STM32_CHIPS.find((c) => c.pid === 0x410);
    const f4 = STM32_CHIPS.find((c) => c.pid === 0x413);
    if (!f1 || !f4) throw new Error('chips missing');
    expect(eraseUnits(f1, 64 * 1024)).toHaveLength(64);
    const sectors = eraseUnits(f4, 1024 * 1024);
    expect(sectors.map((s) => s.size / 1024)).toEqual([16, 16, 16, 16, 64, 128, 128, 128, 128, 128, 128, 128]);
    expect(unitsCovering(sectors, 60 * 1024, 8 * 1024).map((u) => u.index)).toEqual([3, 4]);
  });
});

describe('entry sequences (stm32flash -i syntax)', () => {
  it('parses entry and exit with pauses', () => {
    expect(parseEntrySequence('rts&-dtr,dtr:-rts&-dtr,dtr')).toEqual({
      entry: [
        { signal: 'rts', level: true, pauseMs: 0 },
        { signal: 'dtr', level: false, pauseMs: 100 },
        { signal: 'dtr', level: true, pauseMs: 0 },
      ],
      exit: [
        { signal: 'rts', level: false, pauseMs: 0 },
        { signal: 'dtr', level: false, pauseMs: 100 },
        { signal: 'dtr', level: true, pauseMs: 0 },
      ],
    });
    expect(() => parseEntrySequence('gpio17,dtr')).toThrow(/write signals dtr or rts/);
    expect(() => parseEntrySequence('dtr:rts:dtr')).toThrow(/more than one ':'/);
  });
});
