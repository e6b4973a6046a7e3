// A set of half-open byte ranges [start, end), kept sorted and merged: which parts of a partition may hold data.

export type Range = readonly [start: number, end: number];

export class ExtentSet {
  #r: [number, number][] = [];

  get ranges(): readonly Range[] {
    return this.#r;
  }

  get size(): number {
    return this.#r.reduce((n, [s, e]) => n + e - s, 0);
  }

  clear(): void {
    this.#r = [];
  }

  /** Index of the first range whose end is >= start (binary search). */
  #first(start: number): number {
    let lo = 0;
    let hi = this.#r.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#r[mid]![1] < start) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  add(start: number, end: number): void {
    if (end <= start) return;
    const i = this.#first(start);
    let s = start;
    let e = end;
    let j = i;
    while (j < this.#r.length && this.#r[j]![0] <= e) {
      s = Math.min(s, this.#r[j]![0]);
      e = Math.max(e, this.#r[j]![1]);
      j++;
    }
    this.#r.splice(i, j - i, [s, e]);
  }

  remove(start: number, end: number): void {
    if (end <= start) return;
    const i = this.#first(start + 1);
    const keep: [number, number][] = [];
    let j = i;
    while (j < this.#r.length && this.#r[j]![0] < end) {
      const [s, e] = this.#r[j]!;
      if (s < start) keep.push([s, start]);
      if (e > end) keep.push([end, e]);
      j++;
    }
    this.#r.splice(i, j - i, ...keep);
  }

  /** The parts of [start, end) that are in the set. */
  intersect(start: number, end: number): Range[] {
    const out: Range[] = [];
    for (let j = this.#first(start + 1); j < this.#r.length && this.#r[j]![0] < end; j++) {
      const [s, e] = this.#r[j]!;
      const a = Math.max(s, start);
      const b = Math.min(e, end);
      if (b > a) out.push([a, b]);
    }
    return out;
  }

  /** True when every byte of [start, end) is outside the set. */
  disjoint(start: number, end: number): boolean {
    return this.intersect(start, end).length === 0;
  }
}
