// S-record: round trips (fast-check), record-by-record validation.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sniffAddressed } from '../../../src/images/addressed.js';
import { parseSrec, writeSrec } from '../../../src/images/srec.js';

const segmentsArb = fc
  .array(fc.record({ gap: fc.integer({ min: 1, max: 5000 }), bytes: fc.uint8Array({ minLength: 1, maxLength: 200 }) }), { minLength: 1, maxLength: 5 })
  .chain((parts) =>
    fc.integer({ min: 0, max: 0xf000_0000 }).map((start) => {
      let at = start;
      return parts.map((p) => {
        const s = { address: at, bytes: p.bytes };
        at += p.bytes.length + p.gap;
        return s;
      });
    }),
  );

describe('S-record', () => {
  it('parses what it writes', () => {
    fc.assert(
      fc.property(segmentsArb, fc.integer({ min: 1, max: 64 }), fc.nat(), (segments, perLine, entry) => {
        const text = writeSrec(segments, { perLine, entry });
        const image = parseSrec(text);
        expect(image.segments.map((s) => [s.address, Buffer.from(s.bytes)])).toEqual(segments.map((s) => [s.address, Buffer.from(s.bytes)]));
        expect(image.entry).toBe(entry);
        expect(sniffAddressed(new TextEncoder().encode(text))).toBe('srec');
      }),
      { numRuns: 150 },
    );
  });

  it('refuses any single changed hex digit of a data record', () => {
    fc.assert(
      fc.property(segmentsArb, fc.nat(), fc.integer({ min: 1, max: 15 }), (segments, pick, delta) => {
        const lines = writeSrec(segments).split('\n');
        const data = lines.map((l, i) => [l, i] as const).filter(([l]) => l.startsWith('S3'));
        const [line, index] = data[pick % data.length] ?? ['', 0];
        const col = 2 + (pick % (line.length - 2));
        lines[index] = line.slice(0, col) + ((parseInt(line[col] ?? '0', 16) + delta) % 16).toString(16).toUpperCase() + line.slice(col + 1);
        expect(() => parseSrec(lines.join('\n'))).toThrow(expect.objectContaining({ code: 'image_invalid' }) as Error);
      }),
      { numRuns: 200 },
    );
  });

  it('reads S1/S2 records and names the line of a bad checksum', () => {
    const text = 'S00600004844521B\nS107000001020304EE\nS2070100000A0B0CD6\nS9030000FC\n';
    const image = parseSrec(text, 'app.s19');
    expect(image.segments).toEqual([
      { address: 0, bytes: Uint8Array.of(1, 2, 3, 4) },
      { address: 0x10000, bytes: Uint8Array.of(0x0a, 0x0b, 0x0c) },
    ]);
    expect(() => parseSrec(text.replace('04EE', '04EF'), 'app.s19')).toThrow(/app\.s19: line 2: checksum is 0xEF/);
  });

  it('refuses a count record that disagrees and a non-record line', () => {
    expect(() => parseSrec('S107000001020304EE\nS5030002FA\n')).toThrow(/says 2 data records, the file has 1/);
    expect(() => parseSrec('X1070000010203046E\n')).toThrow(/not an S-record/);
  });
});
