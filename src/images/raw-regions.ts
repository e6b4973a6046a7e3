// A raw file's layout for reading: ranges to skip (a .bmap leaves them out), holes to send as zeros, data to scan.
import type { Extent } from './file-extents.js';
import { SCAN_BLOCK } from './hole-scan.js';

/**
 * `skip`: not mapped by a .bmap (may be left as it is on the device); `zero`: a hole of the file (reads as zeros:
 * written as a zero fill, never skipped); `data`: read and scanned for fill blocks.
 */
export interface RawRegion {
  kind: 'skip' | 'zero' | 'data';
  start: number;
  end: number;
}

/**
 * Regions covering [0, size) in order, adjacent ones of a kind merged. `mapped`: the ranges a .bmap maps (sorted,
 * disjoint), undefined for all. `extents`: the file's data extents (sorted, disjoint), undefined when unknown (all
 * data). Holes are shrunk to whole 4096-byte blocks (what is cut off is read as data), so data regions start where a
 * dense scan's blocks start and the scan finds the same fill blocks.
 */
export function rawRegions(size: number, mapped?: readonly Extent[], extents?: readonly Extent[]): RawRegion[] {
  const out: RawRegion[] = [];
  const push = (kind: RawRegion['kind'], start: number, end: number): void => {
    if (end <= start) return;
    const last = out[out.length - 1];
    if (last && last.kind === kind && last.end === start) last.end = end;
    else out.push({ kind, start, end });
  };
  const hole = (start: number, end: number): void => {
    const zs = Math.ceil(start / SCAN_BLOCK) * SCAN_BLOCK;
    const ze = Math.floor(end / SCAN_BLOCK) * SCAN_BLOCK;
    if (ze > zs) {
      push('data', start, zs);
      push('zero', zs, ze);
      push('data', ze, end);
    } else push('data', start, end);
  };
  let pos = 0;
  let ei = 0;
  for (const r of mapped ?? [{ start: 0, end: size }]) {
    push('skip', pos, r.start);
    let at = r.start;
    while (at < r.end) {
      if (!extents) {
        push('data', at, r.end);
        break;
      }
      while (ei < extents.length && (extents[ei]?.end ?? 0) <= at) ei++;
      const e = extents[ei];
      const holeEnd = e ? Math.min(Math.max(e.start, at), r.end) : r.end;
      if (holeEnd > at) {
        hole(at, holeEnd);
        at = holeEnd;
      }
      if (e && at < r.end) {
        const dataEnd = Math.min(e.end, r.end);
        push('data', at, dataEnd);
        at = dataEnd;
      }
    }
    pos = Math.max(pos, r.end);
  }
  push('skip', pos, size);
  return out;
}

/** Bytes of `kind` in `regions`. */
export function regionBytes(regions: readonly RawRegion[], kind: RawRegion['kind']): number {
  let n = 0;
  for (const r of regions) if (r.kind === kind) n += r.end - r.start;
  return n;
}
