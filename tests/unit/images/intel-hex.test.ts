// Intel HEX: round trips (fast-check), record-by-record validation, sniffing.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sniffAddressed, type Segment } from '../../../src/images/addressed.js';
import { parseIntelHex, writeIntelHex } from '../../../src/images/intel-hex.js';

/** Non-overlapping, non-adjacent segments in the 32-bit space. */
const segmentsArb = fc
  .array(fc.record({ gap: fc.integer({ min: 1, max: 70_000 }), bytes: fc.uint8Array({ minLength: 1, maxLength: 300 }) }), { minLength: 1, maxLength: 6 })
  .chain((parts) =>
    fc.integer({ min: 0, max: 0x0800_0000 }).map((start) => {
      const out: Segment[] = [];
      let at = start;
      for (const p of parts) {
        out.push({ address: at, bytes: p.bytes });
        at += p.bytes.length + p.gap;
      }
      return out;
    }),
  );

describe('Intel HEX', () => {
  it('parses what it writes, at any line length, across 64 KiB boundaries', () => {
    fc.assert(
      fc.property(segmentsArb, fc.integer({ min: 1, max: 255 }), fc.option(fc.nat()), (segments, perLine, entry) => {
        const text = writeIntelHex(segments, { perLine, ...(entry !== null ? { entry } : {}) });
        const image = parseIntelHex(text);
        expect(image.segments.map((s) => ({ address: s.address, bytes: Buffer.from(s.bytes) }))).toEqual(
          segments.map((s) => ({ address: s.address, bytes: Buffer.from(s.bytes) })),
        );
        expect(image.dataBytes).toBe(segments.reduce((n, s) => n + s.bytes.length, 0));
        if (entry !== null) expect(image.entry).toBe(entry);
        expect(sniffAddressed(new TextEncoder().encode(text.slice(0, 64)))).toBe('ihex');
      }),
      { numRuns: 150 },
    );
  });

  it('refuses any single changed hex digit of a data record (checksum or structure)', () => {
    fc.assert(
      fc.property(segmentsArb, fc.nat(), fc.integer({ min: 1, max: 15 }), (segments, pick, delta) => {
        const text = writeIntelHex(segments);
        const lines = text.split('\n');
        const dataLines = lines.map((l, i) => [l, i] as const).filter(([l]) => l.slice(7, 9) === '00');
        const [line, index] = dataLines[pick % dataLines.length] ?? ['', 0];
        const col = 1 + (pick % (line.length - 1));
        const digit = (parseInt(line[col] ?? '0', 16) + delta) % 16;
        lines[index] = line.slice(0, col) + digit.toString(16).toUpperCase() + line.slice(col + 1);
        expect(() => parseIntelHex(lines.join('\n'))).toThrow(expect.objectContaining({ code: 'image_invalid' }) as Error);
      }),
      { numRuns: 200 },
    );
  });

  it('names the line of a bad checksum', () => {
    const good = ':020000040800F2\n:0400000001020304F2\n:00000001FF\n';
    expect(parseIntelHex(good).segments).toEqual([{ address: 0x0800_0000, bytes: Uint8Array.of(1, 2, 3, 4) }]);
    expect(() => parseIntelHex(good.replace('F2\n:00000001', 'F3\n:00000001'), 'app.hex')).toThrow(/app\.hex: line 2: checksum is 0xF3, the record adds up to 0xF2/);
  });

  it('refuses a file cut short, overlapping records, unknown types and stray text', () => {
    expect(() => parseIntelHex(':0400000001020304F2\n')).toThrow(/no end-of-file record/);
    expect(() => parseIntelHex(':0400000001020304F2\n:0400020001020304F0\n:00000001FF\n')).toThrow(/both hold address 0x2/);
    expect(() => parseIntelHex(':00000006FA\n:00000001FF\n')).toThrow(/unknown record type 0x06/);
    expect(() => parseIntelHex('hello\n')).toThrow(/starts with ':'/);
    expect(() => parseIntelHex(':00000001FF\n:0400000001020304F2\n')).toThrow(/after the end-of-file/);
    expect(() => parseIntelHex(':0500000001020304F2\n:00000001FF\n')).toThrow(/says 5 data bytes but holds 4/);
  });

  it('takes extended segment addresses, CRLF and blank lines', () => {
    const text = ':020000021000EC\r\n\r\n:0100100055' + '9A\r\n:00000001FF\r\n';
    expect(parseIntelHex(text).segments).toEqual([{ address: 0x10010, bytes: Uint8Array.of(0x55) }]);
  });

  it('does not take a binary for a HEX file', () => {
    expect(sniffAddressed(Uint8Array.of(0x00, 0x50, 0x00, 0x20, 0x09, 0x01, 0x00, 0x08))).toBeUndefined();
    expect(sniffAddressed(new TextEncoder().encode(':hello world'))).toBeUndefined();
  });
});
