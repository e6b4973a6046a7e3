// Size parsing of the command line (K/M/G powers of 1024, 0x hex) and the terminal formatting helpers.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSize } from '../../../src/protocol/units.js';
import { formatBytes, formatDuration, progressLine, table } from '../../../src/cli/format.js';

describe('parseSize', () => {
  it('reads suffixes and hex', () => {
    expect(parseSize('512')).toBe(512);
    expect(parseSize('64K')).toBe(64 * 1024);
    expect(parseSize('256M')).toBe(256 * 1024 ** 2);
    expect(parseSize('2G')).toBe(2 * 1024 ** 3);
    expect(parseSize('1.5m')).toBe(1.5 * 1024 ** 2);
    expect(parseSize('16MiB')).toBe(16 * 1024 ** 2);
    expect(parseSize('0x1000')).toBe(4096);
  });
  it('refuses what is not a size', () => {
    for (const bad of ['', 'M', '12Q', '-5', '0x', 'ten', '1e3']) expect(() => parseSize(bad), bad).toThrow(/size/);
  });
  it('round-trips any integer with any suffix', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 20 }), fc.constantFrom(['', 1], ['K', 1024], ['M', 1024 ** 2], ['G', 1024 ** 3]), (n, [s, mul]) => {
      expect(parseSize(`${n}${s as string}`)).toBe(n * mul);
    }));
  });
  it('round-trips hex', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (n) => {
      expect(parseSize(`0x${n.toString(16)}`)).toBe(n);
    }));
  });
});

describe('formatting', () => {
  it('formats bytes and durations', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(21250000)).toBe('20.3 MiB');
    expect(formatDuration(110)).toBe('1:50');
    expect(formatDuration(3725)).toBe('1:02:05');
    expect(formatDuration(Number.NaN)).toBe('--:--');
  });
  it('draws a bar proportional to progress that fits the width', () => {
    const line = progressLine({ progress: 50, bytesTransferred: 512, totalBytes: 1024, transferSpeed: 100, estimatedTimeRemaining: 5, stage: 'Writing boot' }, 120);
    const bar = /\[([#.]+)\]/.exec(line)![1]!;
    expect(bar.split('#').length - 1).toBe(bar.length / 2);
    expect(line).toContain('50.0%');
    expect(line).toContain('ETA 0:05');
    fc.assert(fc.property(fc.double({ min: 0, max: 100, noNaN: true }), fc.integer({ min: 20, max: 300 }), (p, w) => {
      expect(progressLine({ progress: p, bytesTransferred: 1, totalBytes: 2, transferSpeed: 1, estimatedTimeRemaining: 1, stage: 'x'.repeat(50) }, w).length).toBeLessThan(w);
    }));
  });
  it('aligns table columns', () => {
    expect(table([['A', 'B'], ['long', 'x']])).toBe('A     B\nlong  x');
  });
});
