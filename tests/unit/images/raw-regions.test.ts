// rawRegions: how a raw file's holes and a .bmap's ranges become skip / zero / data regions.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rawRegions } from '../../../src/images/raw-regions.js';

const BS = 4096;

/** Sorted, disjoint ranges in [0, size) from a list of cut points. */
const ranges = (cuts: number[], size: number): { start: number; end: number }[] => {
  const pts = [...new Set(cuts.map((c) => Math.min(size, c)))].sort((a, b) => a - b);
  const out: { start: number; end: number }[] = [];
  for (let i = 0; i + 1 < pts.length; i += 2) if ((pts[i + 1] ?? 0) > (pts[i] ?? 0)) out.push({ start: pts[i] ?? 0, end: pts[i + 1] ?? 0 });
  return out;
};
const inAny = (x: number, rs: readonly { start: number; end: number }[]): boolean => rs.some((r) => r.start <= x && x < r.end);

describe('rawRegions', () => {
  it('without holes or bmap is one data region', () => {
    expect(rawRegions(10_000)).toEqual([{ kind: 'data', start: 0, end: 10_000 }]);
  });

  it('turns whole blocks of a hole into zeros and reads the hole\'s partial blocks as data', () => {
    // data [0, 100), hole [100, 3*BS + 5), data to the end; the image ends mid-block inside a hole
    const size = 6 * BS + 7;
    const r = rawRegions(size, undefined, [{ start: 0, end: 100 }, { start: 3 * BS + 5, end: 4 * BS }]);
    expect(r).toEqual([
      { kind: 'data', start: 0, end: BS },
      { kind: 'zero', start: BS, end: 3 * BS },
      { kind: 'data', start: 3 * BS, end: 4 * BS },
      { kind: 'zero', start: 4 * BS, end: 6 * BS },
      { kind: 'data', start: 6 * BS, end: size },
    ]);
  });

  it('a file with no data extent at all is zeros (skips where the bmap leaves ranges out)', () => {
    expect(rawRegions(8 * BS, [{ start: 2 * BS, end: 5 * BS }], [])).toEqual([
      { kind: 'skip', start: 0, end: 2 * BS },
      { kind: 'zero', start: 2 * BS, end: 5 * BS },
      { kind: 'skip', start: 5 * BS, end: 8 * BS },
    ]);
  });

  it('covers [0, size) in order; skip exactly where unmapped, zero only in holes on whole blocks, merged', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 * BS }),
        fc.option(fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 10 })),
        fc.option(fc.array(fc.integer({ min: 0, max: 40 * BS }), { maxLength: 12 })),
        (size, mapCuts, extentCuts) => {
          const mapped = mapCuts ? ranges(mapCuts.map((c) => c * BS), size) : undefined;
          const extents = extentCuts ? ranges(extentCuts, size) : undefined;
          const regions = rawRegions(size, mapped, extents);
          let pos = 0;
          let prev: string | undefined;
          for (const r of regions) {
            expect(r.start).toBe(pos);
            expect(r.end).toBeGreaterThan(r.start);
            expect(r.kind).not.toBe(prev); // merged
            prev = r.kind;
            pos = r.end;
            // sample the region's first and last byte
            for (const x of [r.start, r.end - 1]) {
              const isMapped = !mapped || inAny(x, mapped);
              expect(r.kind === 'skip').toBe(!isMapped);
              if (r.kind === 'zero') {
                expect(extents !== undefined && !inAny(x, extents)).toBe(true);
                expect(r.start % BS).toBe(0);
                expect(r.end % BS).toBe(0);
              }
              if (extents && inAny(x, extents) && isMapped) expect(r.kind).toBe('data');
            }
          }
          expect(pos).toBe(size);
          if (!extents) expect(regions.some((r) => r.kind === 'zero')).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });
});
