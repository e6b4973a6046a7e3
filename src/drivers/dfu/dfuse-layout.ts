// The DfuSe memory layout an alt setting's name announces: `@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg`
// (one or more `/ADDRESS/COUNT*SIZE[ BKM]TYPE,…` blocks; type letters a–g: bit 0 readable, 1 erasable, 2 writable).

export interface LayoutSegment {
  start: number;
  /** Exclusive. */
  end: number;
  pageSize: number;
  readable: boolean;
  erasable: boolean;
  writable: boolean;
}

export interface DfuseLayout {
  name: string;
  segments: LayoutSegment[];
}

const UNITS: Record<string, number> = { ' ': 1, B: 1, K: 1024, M: 1024 * 1024 };

/** Parses a layout string; undefined when the name is not one (plain DFU alt names). */
export function parseLayout(text: string): DfuseLayout | undefined {
  if (!text.startsWith('@')) return undefined;
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const name = text.slice(1, slash).trim();
  const segments: LayoutSegment[] = [];
  const blockRe = /\/\s*(0x[0-9a-fA-F]+)\s*\/([^/]*)/g;
  for (const block of text.slice(slash).matchAll(blockRe)) {
    let at = Number.parseInt(block[1]!, 16);
    for (const run of block[2]!.split(',')) {
      const m = /^\s*(\d+)\s*\*\s*(\d+)\s*([ BKM]?)\s*([a-g])\s*$/.exec(run);
      if (!m) {
        if (run.trim() === '') continue;
        return undefined;
      }
      const count = Number(m[1]);
      const pageSize = Number(m[2]) * (UNITS[m[3] || ' '] ?? 1);
      const type = m[4]!.charCodeAt(0) - 0x60;
      if (count === 0 || pageSize === 0) continue;
      segments.push({
        start: at,
        end: at + count * pageSize,
        pageSize,
        readable: (type & 1) !== 0,
        erasable: (type & 2) !== 0,
        writable: (type & 4) !== 0,
      });
      at += count * pageSize;
    }
  }
  return segments.length ? { name, segments } : undefined;
}

export function segmentAt(layout: DfuseLayout, address: number): LayoutSegment | undefined {
  return layout.segments.find((s) => address >= s.start && address < s.end);
}

/** Start addresses of the erasable pages that [start, end) touches; undefined when part of it is not writable. */
export function pagesFor(layout: DfuseLayout, start: number, end: number): number[] | undefined {
  const pages: number[] = [];
  let at = start;
  while (at < end) {
    const seg = segmentAt(layout, at);
    if (!seg || !seg.writable) return undefined;
    const page = seg.start + Math.floor((at - seg.start) / seg.pageSize) * seg.pageSize;
    if (seg.erasable) pages.push(page);
    at = page + seg.pageSize;
  }
  return pages;
}

export function layoutSize(layout: DfuseLayout): number {
  return layout.segments.reduce((n, s) => n + (s.end - s.start), 0);
}
