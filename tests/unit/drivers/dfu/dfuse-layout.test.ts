// DfuSe memory layouts from alt-setting names: real bootloaders' strings, units and type letters, pages to erase.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { layoutSize, pagesFor, parseLayout, segmentAt } from '../../../../src/drivers/dfu/dfuse-layout.js';
import { defaultSectors, layoutString } from '../../../../src/sim/dfu/config.js';

const K = 1024;

describe('parseLayout', () => {
  it('reads the STM32F4 system bootloader string', () => {
    const l = parseLayout('@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg');
    expect(l?.name).toBe('Internal Flash');
    expect(l?.segments).toEqual([
      { start: 0x0800_0000, end: 0x0801_0000, pageSize: 16 * K, readable: true, erasable: true, writable: true },
      { start: 0x0801_0000, end: 0x0802_0000, pageSize: 64 * K, readable: true, erasable: true, writable: true },
      { start: 0x0802_0000, end: 0x0810_0000, pageSize: 128 * K, readable: true, erasable: true, writable: true },
    ]);
    expect(layoutSize(l!)).toBe(1024 * K);
  });

  it('reads several address blocks, byte and MiB units and every type letter', () => {
    const l = parseLayout('@Option Bytes  /0x1FFFC000/01*016 e/0x1FFEC000/01*016 e,02*1Mc,03*002Bd');
    expect(l?.name).toBe('Option Bytes');
    expect(l?.segments.map((s) => [s.start, s.end - s.start, s.pageSize, s.readable, s.erasable, s.writable])).toEqual([
      [0x1fff_c000, 16, 16, true, false, true],
      [0x1ffe_c000, 16, 16, true, false, true],
      [0x1ffe_c010, 2 * K * K, K * K, true, true, false],
      [0x1ffe_c010 + 2 * K * K, 6, 2, false, false, true],
    ]);
    const letters = 'abcdefg'.split('').map((c) => parseLayout(`@X/0x0/1*1K${c}`)!.segments[0]!);
    expect(letters.map((s) => [s.readable, s.erasable, s.writable])).toEqual([
      [true, false, false],
      [false, true, false],
      [true, true, false],
      [false, false, true],
      [true, false, true],
      [false, true, true],
      [true, true, true],
    ]);
  });

  it('is undefined for plain DFU alt names and for runs it cannot read', () => {
    for (const name of ['firmware', 'alt0', '', '@no slash', '@X/0x08000000/04*016Kz', '@X/0x08000000/4*', '@X/0x08000000/']) {
      expect(parseLayout(name), name).toBeUndefined();
    }
  });

  it('skips empty runs and zero counts but keeps the addresses right', () => {
    const l = parseLayout('@F/0x100/00*1Kg,,02*256 g');
    expect(l?.segments.map((s) => [s.start, s.end])).toEqual([[0x100, 0x300]]);
  });

  it('reads back every layout the DfuSe simulator announces (fast-check over flash sizes)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 1, max: 64 }).map((n) => n * 2 * K), fc.integer({ min: 1, max: 16 }).map((n) => n * 128 * K)), (size) => {
        const l = parseLayout(layoutString(defaultSectors(size)));
        expect(l).toBeDefined();
        expect(l!.segments[0]!.start).toBe(0x0800_0000);
        expect(layoutSize(l!)).toBe(size);
      }),
    );
  });
});

describe('segmentAt and pagesFor', () => {
  const l = parseLayout('@Mixed /0x08000000/02*001Ka,04*001Kg/0x20000000/01*004Ke')!;

  it('finds the segment of an address, none in gaps or past the end', () => {
    expect(segmentAt(l, 0x0800_0000)?.writable).toBe(false);
    expect(segmentAt(l, 0x0800_0800)?.pageSize).toBe(K);
    expect(segmentAt(l, 0x0800_17ff)?.start).toBe(0x0800_0800);
    expect(segmentAt(l, 0x0800_1800)).toBeUndefined();
    expect(segmentAt(l, 0x2000_0fff)?.start).toBe(0x2000_0000);
    expect(segmentAt(l, 0x1000_0000)).toBeUndefined();
  });

  it('lists each touched erasable page once, in order', () => {
    expect(pagesFor(l, 0x0800_0800, 0x0800_0801)).toEqual([0x0800_0800]);
    expect(pagesFor(l, 0x0800_0bff, 0x0800_1401)).toEqual([0x0800_0800, 0x0800_0c00, 0x0800_1000, 0x0800_1400]);
    expect(pagesFor(l, 0x0800_1000, 0x0800_1000)).toEqual([]);
  });

  it('gives no pages for writable memory that is not erasable, and undefined for read-only memory or gaps', () => {
    expect(pagesFor(l, 0x2000_0000, 0x2000_1000)).toEqual([]);
    expect(pagesFor(l, 0x0800_0000, 0x0800_0010)).toBeUndefined();
    expect(pagesFor(l, 0x0800_1700, 0x0800_1900)).toBeUndefined();
  });

  it('covers exactly the pages of [start, end) (fast-check)', () => {
    const f4 = parseLayout(layoutString(defaultSectors(512 * K)))!;
    fc.assert(
      fc.property(fc.nat({ max: 512 * K - 1 }), fc.nat({ max: 200 * K }), (off, len) => {
        const start = 0x0800_0000 + off;
        const end = Math.min(0x0808_0000, start + len);
        const pages = pagesFor(f4, start, end)!;
        for (let i = 1; i < pages.length; i++) expect(pages[i]!).toBeGreaterThan(pages[i - 1]!);
        for (const a of [start, end - 1]) {
          if (end <= start) continue;
          const s = segmentAt(f4, a)!;
          expect(pages).toContain(s.start + Math.floor((a - s.start) / s.pageSize) * s.pageSize);
        }
        for (const p of pages) expect(p + segmentAt(f4, p)!.pageSize > start && p < end).toBe(true);
      }),
    );
  });
});
