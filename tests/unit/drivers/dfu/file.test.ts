// DFU files: the CRC against zlib's, suffix and DfuSe round trips (fast-check), every refusal with what it names, and
// the checks against a device's ids and memory layout.
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FlashError } from '../../../../src/contracts/errors.js';
import { parseLayout } from '../../../../src/drivers/dfu/dfuse-layout.js';
import {
  buildDfuseFile,
  buildDfuSuffix,
  checkElementsInLayout,
  checkSuffixMatches,
  dfuCrc32,
  parseDfuFile,
  type DfuseTarget,
} from '../../../../src/drivers/dfu/file.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** The FlashError `fn` throws (fails the test when it throws nothing or something else). */
function refusal(fn: () => unknown): FlashError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FlashError);
    return e as FlashError;
  }
  throw new Error('expected a FlashError, nothing was thrown');
}

const idsArb = fc.record({
  idVendor: fc.integer({ min: 0, max: 0xffff }),
  idProduct: fc.integer({ min: 0, max: 0xffff }),
  bcdDevice: fc.integer({ min: 0, max: 0xffff }),
});

/** Firmware that does not itself look like a DfuSe container. */
const firmwareArb = fc.uint8Array({ minLength: 1, maxLength: 3000 }).filter((b) => b[0] !== 0x44);

const targetsArb: fc.Arbitrary<DfuseTarget[]> = fc.array(
  fc.record({
    alt: fc.integer({ min: 0, max: 255 }),
    name: fc.option(fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 254 }), { nil: null }),
    parts: fc.array(fc.record({ gap: fc.nat({ max: 5000 }), data: fc.uint8Array({ maxLength: 600 }) }), { maxLength: 4 }),
    base: fc.integer({ min: 0, max: 0xf000_0000 }),
  }),
  { minLength: 1, maxLength: 4 },
).map((list) =>
  // Element ranges never overlap within a file (the parser refuses that): each target gets its own window.
  list.map((t, i) => {
    let at = t.base + i * 0x100_0000 - (t.base % 0x100_0000);
    return {
      alt: t.alt,
      name: t.name,
      elements: t.parts.map((p) => {
        const el = { address: at + p.gap, data: p.data };
        at += p.gap + p.data.length;
        return el;
      }),
    };
  }),
);

const plain = (targets: readonly DfuseTarget[]): unknown =>
  targets.map((t) => ({ alt: t.alt, name: t.name, elements: t.elements.map((e) => [e.address, Array.from(e.data)]) }));

describe('dfuCrc32', () => {
  it('is the reflected CRC-32 without the final XOR (check value of "123456789")', () => {
    expect(dfuCrc32(enc('123456789'))).toBe((~0xcbf43926) >>> 0);
    expect(dfuCrc32(new Uint8Array(0))).toBe(0xffffffff);
  });

  it('equals ~zlib.crc32 and continues across chunks', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), fc.nat(), (bytes, cut) => {
        const at = bytes.length ? cut % (bytes.length + 1) : 0;
        expect(dfuCrc32(bytes)).toBe(~crc32(bytes) >>> 0);
        expect(dfuCrc32(bytes.subarray(at), dfuCrc32(bytes.subarray(0, at)))).toBe(dfuCrc32(bytes));
      }),
      { numRuns: 300 },
    );
  });
});

describe('parseDfuFile: raw and suffixed files', () => {
  it('takes bytes without a suffix as raw, whole', () => {
    fc.assert(
      fc.property(firmwareArb, (fw) => {
        const f = parseDfuFile(fw, 'app.bin');
        expect(f.kind).toBe('raw');
        expect(f.payload).toEqual(fw);
        expect(f.suffix).toBeNull();
        expect(f.targets).toEqual([]);
      }),
    );
  });

  it('round-trips buildDfuSuffix: the payload without the suffix and the ids it carries', () => {
    fc.assert(
      fc.property(firmwareArb, idsArb, (fw, ids) => {
        const file = buildDfuSuffix(fw, ids);
        expect(file.length).toBe(fw.length + 16);
        const f = parseDfuFile(file, 'app.dfu');
        expect(f.kind).toBe('dfu');
        expect(Array.from(f.payload)).toEqual(Array.from(fw));
        expect(f.suffix).toEqual({ ...ids, bcdDFU: 0x0100, length: 16, crc: dfuCrc32(file.subarray(0, file.length - 4)) });
      }),
      { numRuns: 200 },
    );
  });

  it('defaults the ids to 0xFFFF (any) and lays the suffix out as appendix B', () => {
    const file = buildDfuSuffix(enc('firmware'));
    expect(Array.from(file.subarray(8, 20))).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x01, 0x55, 0x46, 0x44, 16]);
    expect(parseDfuFile(file).suffix).toMatchObject({ idVendor: 0xffff, idProduct: 0xffff, bcdDevice: 0xffff });
  });

  it('honours a bLength above 16: the extra bytes belong to the suffix, not the firmware', () => {
    const fw = enc('firmware');
    const file = new Uint8Array(fw.length + 20);
    file.set(fw);
    file.set(buildDfuSuffix(new Uint8Array(4)).subarray(4), fw.length + 4); // 4 vendor bytes, then the standard 16
    file[file.length - 5] = 20;
    new DataView(file.buffer).setUint32(file.length - 4, dfuCrc32(file.subarray(0, file.length - 4)), true);
    const f = parseDfuFile(file, 'x.dfu');
    expect(f.kind).toBe('dfu');
    expect(f.suffix?.length).toBe(20);
    expect(Buffer.from(f.payload).toString()).toBe('firmware');
  });

  it('refuses a bad CRC, naming both CRCs', () => {
    const file = buildDfuSuffix(enc('some firmware bytes'), { idVendor: 0x0483, idProduct: 0xdf11 });
    const good = dfuCrc32(file.subarray(0, file.length - 4));
    file[3] = file[3]! ^ 0x40;
    const bad = dfuCrc32(file.subarray(0, file.length - 4));
    const e = refusal(() => parseDfuFile(file, 'fw.dfu'));
    expect(e.code).toBe('image_invalid');
    expect(e.message).toContain(`0x${good.toString(16).padStart(8, '0')}`);
    expect(e.message).toContain(`0x${bad.toString(16).padStart(8, '0')}`);
    expect(e.message).toContain('fw.dfu');
    expect(e.detail).toMatch(/^dfu suffix crc 0x[0-9a-f]{8} computed 0x[0-9a-f]{8}$/);
  });

  it('refuses every single-byte change of a .dfu file (fast-check)', () => {
    fc.assert(
      fc.property(firmwareArb, idsArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (fw, ids, where, flip) => {
        const file = buildDfuSuffix(fw, ids);
        file[where % file.length] = file[where % file.length]! ^ flip;
        expect(refusal(() => parseDfuFile(file, 'x.dfu')).code).toBe('image_invalid');
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a .dfu file cut short anywhere (fast-check)', () => {
    fc.assert(
      fc.property(firmwareArb, idsArb, fc.integer({ min: 1, max: 3100 }), (fw, ids, cut) => {
        const file = buildDfuSuffix(fw, ids);
        const n = Math.max(0, file.length - cut);
        expect(refusal(() => parseDfuFile(file.subarray(0, n), 'x.dfu')).code).toBe('image_invalid');
      }),
      { numRuns: 300 },
    );
  });

  it.each([1, 2, 3, 4, 5])('refuses a suffix that lost its last %i byte(s), whatever the file is called', (cut) => {
    const file = buildDfuSuffix(enc('firmware!'), { idVendor: 0x1234, idProduct: 0xabcd });
    const e = refusal(() => parseDfuFile(file.subarray(0, file.length - cut)));
    expect(e.code).toBe('image_invalid');
    expect(e.message).toMatch(/cut-off DFU suffix.*offset 17/);
  });

  it('refuses a valid suffix followed by appended bytes, naming where it ends', () => {
    const file = buildDfuSuffix(enc('firmware!'));
    const padded = new Uint8Array(file.length + 100).fill(0xff);
    padded.set(file);
    const e = refusal(() => parseDfuFile(padded, 'fw.bin'));
    expect(e.message).toContain(`ends at offset ${file.length}, but 100 more bytes follow it`);
  });

  it.each([
    [0, 'less than the 16 bytes'],
    [15, 'less than the 16 bytes'],
    [200, 'but the file is only 25 bytes'],
  ])('refuses a "UFD" suffix with bLength %i rather than taking the file as raw', (len, text) => {
    const file = buildDfuSuffix(enc('firmware!'));
    file[file.length - 5] = len;
    new DataView(file.buffer).setUint32(file.length - 4, dfuCrc32(file.subarray(0, file.length - 4)), true);
    const e = refusal(() => parseDfuFile(file));
    expect(e.code).toBe('image_invalid');
    expect(e.message).toContain(text);
    expect(e.message).toContain('offset 20');
  });

  it('refuses a .dfu name without a suffix, and says how to add one', () => {
    const e = refusal(() => parseDfuFile(enc('just firmware bytes here'), 'board.DFU'));
    expect(e.code).toBe('image_invalid');
    expect(e.message).toContain('board.DFU has no DFU suffix');
    expect(e.message).toContain('dfu-suffix');
  });

  it('refuses an empty file and a suffix without firmware', () => {
    expect(refusal(() => parseDfuFile(new Uint8Array(0), 'e.bin')).message).toContain('e.bin is empty');
    expect(refusal(() => parseDfuFile(buildDfuSuffix(new Uint8Array(0)), 'e.dfu')).message).toContain('no firmware');
  });
});

describe('parseDfuFile: DfuSe', () => {
  it('round-trips buildDfuseFile: targets, names, elements and the suffix (bcdDFU 0x011A)', () => {
    fc.assert(
      fc.property(targetsArb, idsArb, (targets, ids) => {
        const file = buildDfuseFile(targets, ids);
        const f = parseDfuFile(file, 'x.dfu');
        expect(f.kind).toBe('dfuse');
        expect(plain(f.targets)).toEqual(plain(targets));
        expect(f.suffix).toMatchObject({ ...ids, bcdDFU: 0x011a, length: 16 });
        expect(f.payload.length).toBe(file.length - 16);
      }),
      { numRuns: 150 },
    );
  });

  it('refuses every single-byte change of a DfuSe file, name or not (fast-check)', () => {
    fc.assert(
      fc.property(targetsArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (targets, where, flip) => {
        const file = buildDfuseFile(targets);
        file[where % file.length] = file[where % file.length]! ^ flip;
        expect(refusal(() => parseDfuFile(file)).code).toBe('image_invalid');
      }),
      { numRuns: 300 },
    );
  });

  it('reads a DfuSe container whose suffix was removed, and one whose DFUImageSize counts the suffix (dfuse-pack)', () => {
    const targets = [{ alt: 0, name: 'ST...', elements: [{ address: 0x0800_0000, data: enc('abc') }] }];
    const file = buildDfuseFile(targets);
    const bare = parseDfuFile(file.subarray(0, file.length - 16), 'a.bin');
    expect(bare.kind).toBe('dfuse');
    expect(bare.suffix).toBeNull();
    expect(plain(bare.targets)).toEqual(plain(targets));
    const payload = file.slice(0, file.length - 16);
    new DataView(payload.buffer).setUint32(6, file.length, true);
    expect(plain(parseDfuFile(buildDfuSuffix(payload, { bcdDFU: 0x011a })).targets)).toEqual(plain(targets));
  });

  it('keeps an unnamed target unnamed, and a name without NUL whole', () => {
    const name = 'N'.repeat(254);
    const file = buildDfuseFile([
      { alt: 1, name: null, elements: [] },
      { alt: 2, name, elements: [{ address: 16, data: enc('x') }] },
    ]);
    const f = parseDfuFile(file);
    expect(f.targets.map((t) => t.name)).toEqual([null, name]);
    file[11 + 274 + 11 + 254] = 0x4e; // the last name byte: no NUL left in szTargetName
    new DataView(file.buffer).setUint32(file.length - 4, dfuCrc32(file.subarray(0, file.length - 4)), true);
    expect(parseDfuFile(file).targets[1]?.name).toBe('N'.repeat(255));
  });

  /** A one-target DfuSe file with two elements (target at offset 11, elements at 285 and 296, 308 bytes), edited. */
  function edited(edit: (p: Uint8Array, v: DataView) => Uint8Array | void): Uint8Array {
    const file = buildDfuseFile([{ alt: 0, name: null, elements: [{ address: 0x0800_0000, data: enc('abc') }, { address: 0x0800_1000, data: enc('defg') }] }]);
    const p = file.slice(0, file.length - 16);
    expect(p.length).toBe(308);
    return buildDfuSuffix(edit(p, new DataView(p.buffer)) ?? p, { bcdDFU: 0x011a });
  }

  function withTrailing(p: Uint8Array): Uint8Array {
    const q = Uint8Array.from([...p, 1, 2, 3]);
    new DataView(q.buffer).setUint32(6, q.length, true);
    return q;
  }

  it.each<[string, (p: Uint8Array, v: DataView) => Uint8Array | void, RegExp]>([
    ['a version other than 1', (p) => void (p[5] = 2), /version 2 at offset 5/],
    ['an image size that is neither', (_p, v) => v.setUint32(6, 99, true), /image is 99 bytes \(offset 6\), but the file holds 308 bytes/],
    ['no targets', (p) => void (p[10] = 0), /no targets \(bTargets 0 at offset 10\)/],
    ['more targets than the file holds', (p) => void (p[10] = 2), /target 2 of 2 at offset 308 is cut short/],
    ['no "Target" signature', (p) => void (p[11] = 0x74), /no "Target" signature at offset 11/],
    ['a target size too large', (_p, v) => v.setUint32(277, 30, true), /says 30 bytes of elements \(offset 277\), but only 23 bytes follow its header at offset 11/],
    ['a target size too small', (_p, v) => v.setUint32(277, 20, true), /element 2 .* at offset 296 says 4 bytes \(offset 300\), but its target has only 1 left/],
    ['a target size the elements do not fill', (_p, v) => v.setUint32(281, 1, true), /says 23 bytes \(offset 277\), but its 1 elements take 11/],
    ['more elements than fit', (_p, v) => v.setUint32(281, 3, true), /says 3 elements \(offset 281\), more than its 23 bytes can hold/],
    ['an element size too large', (_p, v) => v.setUint32(289, 16, true), /element 1 .* at offset 285 says 16 bytes \(offset 289\), but its target has only 15 left/],
    ['trailing bytes', withTrailing, /3 bytes at offset 308 follow the last of its 1 DfuSe targets/],
    ['a cut-short prefix', (p) => p.subarray(0, 8), /DfuSe prefix is cut short: 8 of 11 bytes/],
  ])('refuses %s, naming the offset', (_what, edit, message) => {
    const e = refusal(() => parseDfuFile(edited(edit), 'fw.dfu'));
    expect(e.code).toBe('image_invalid');
    expect(e.message).toMatch(message);
    expect(e.message).toContain('fw.dfu');
  });

  it('refuses an element that runs past 4 GiB, and elements of one alt that overlap', () => {
    const wrap = edited((_p, v) => v.setUint32(285, 0xffff_fffe, true));
    expect(refusal(() => parseDfuFile(wrap)).message).toMatch(/offset 285: 3 bytes from 0xfffffffe run past the 32-bit address space/);
    const overlap = buildDfuseFile([
      { alt: 0, name: null, elements: [{ address: 0x100, data: new Uint8Array(0x20) }] },
      { alt: 0, name: null, elements: [{ address: 0x110, data: new Uint8Array(4) }] },
    ]);
    expect(refusal(() => parseDfuFile(overlap)).message).toContain('overlap: 0x00000100-0x0000011f and 0x00000110-0x00000113');
    const otherAlt = buildDfuseFile([
      { alt: 0, name: null, elements: [{ address: 0x100, data: new Uint8Array(0x20) }] },
      { alt: 1, name: null, elements: [{ address: 0x110, data: new Uint8Array(4) }] },
    ]);
    expect(parseDfuFile(otherAlt).targets).toHaveLength(2);
  });
});

describe('checkSuffixMatches', () => {
  const device = { vendorId: 0x0483, productId: 0xdf11, bcdDevice: 0x2200 };
  const suffix = (idVendor: number, idProduct: number, bcdDevice = 0) => ({ idVendor, idProduct, bcdDevice, bcdDFU: 0x011a, length: 16, crc: 0 });

  it('passes a match, wildcards, no suffix, and ignores bcdDevice', () => {
    expect(() => checkSuffixMatches(suffix(0x0483, 0xdf11), device, false)).not.toThrow();
    expect(() => checkSuffixMatches(suffix(0xffff, 0xffff), device, false)).not.toThrow();
    expect(() => checkSuffixMatches(suffix(0x0483, 0xffff), device, false)).not.toThrow();
    expect(() => checkSuffixMatches(suffix(0xffff, 0xdf11, 0x1234), device, false)).not.toThrow();
    expect(() => checkSuffixMatches(null, device, false)).not.toThrow();
  });

  it.each([
    [0x1234, 0xabcd, '1234:abcd'],
    [0x1234, 0xffff, '1234:ffff (any product)'],
    [0xffff, 0xabcd, 'ffff:abcd (any vendor)'],
    [0x0483, 0xdf12, '0483:df12'],
  ])('refuses %s:%s unless forced, naming both ids', (vid, pid, text) => {
    const e = refusal(() => checkSuffixMatches(suffix(vid, pid), device, false));
    expect(e.code).toBe('image_mismatch');
    expect(e.message).toContain(text);
    expect(e.message).toContain('this device is 0483:df11');
    expect(() => checkSuffixMatches(suffix(vid, pid), device, true)).not.toThrow();
  });
});

describe('checkElementsInLayout', () => {
  const f4 = parseLayout('@Internal Flash  /0x08000000/04*016Kg,01*064Kg,03*128Kg')!;
  const withRom = parseLayout('@Mixed /0x08000000/02*001Ka,02*001Kg/0x20000000/01*004Ke')!;
  const t = (address: number, size: number, alt = 0): DfuseTarget => ({ alt, name: null, elements: [{ address, data: new Uint8Array(size) }] });

  it('passes elements inside writable memory, across segments, up to the last byte, and empty ones anywhere', () => {
    expect(() => checkElementsInLayout([t(0x0800_0000, 16), t(0x0800_3ff0, 0x20), t(0x0807_ffff, 1), t(0x1000, 0)], f4)).not.toThrow();
    expect(() => checkElementsInLayout([t(0x2000_0000, 4096)], withRom)).not.toThrow(); // writable, not erasable (RAM)
  });

  it('refuses an element outside the layout, naming its range and the memory', () => {
    const e = refusal(() => checkElementsInLayout([t(0x0700_0000, 0x100)], f4));
    expect(e.code).toBe('target_unsupported');
    expect(e.message).toContain('0x07000000-0x070000ff');
    expect(e.message).toContain('0x08000000-0x0807ffff');
  });

  it('refuses an element that runs past the end or over a gap', () => {
    const e = refusal(() => checkElementsInLayout([t(0x0807_ff00, 0x200)], f4));
    expect(e.code).toBe('image_too_large');
    expect(e.message).toContain('0x0807ff00-0x080800ff');
    expect(e.message).toContain('at 0x08080000');
    expect(refusal(() => checkElementsInLayout([t(0x0800_0f00, 0x200)], withRom)).message).toContain('0x08000000-0x08000fff, 0x20000000-0x20000fff');
  });

  it('refuses an element on a read-only segment, naming both ranges', () => {
    const e = refusal(() => checkElementsInLayout([t(0x0800_0200, 0x10)], withRom));
    expect(e.code).toBe('target_unsupported');
    expect(e.message).toContain('0x08000200-0x0800020f');
    expect(e.message).toContain('falls on 0x08000000-0x080007ff');
  });

  it('checks each target against its alt setting\'s layout, and refuses an alt without one', () => {
    const layouts = new Map([[0, f4], [1, withRom]]);
    expect(() => checkElementsInLayout([t(0x0800_0000, 4, 0), t(0x2000_0000, 4, 1)], layouts)).not.toThrow();
    expect(refusal(() => checkElementsInLayout([t(0x0800_0000, 4, 1)], layouts)).code).toBe('target_unsupported');
    const e = refusal(() => checkElementsInLayout([{ ...t(0, 4, 3), name: 'OTP' }], layouts));
    expect(e.code).toBe('partition_not_found');
    expect(e.message).toContain('alt 3 "OTP"');
  });
});

describe('builders refuse what the format cannot say', () => {
  it('ids, alt settings, names, addresses and target counts', () => {
    expect(() => buildDfuSuffix(new Uint8Array(1), { idVendor: 0x10000 })).toThrow(RangeError);
    expect(() => buildDfuseFile([{ alt: 256, name: null, elements: [] }])).toThrow(RangeError);
    expect(() => buildDfuseFile([{ alt: 0, name: 'x'.repeat(255), elements: [] }])).toThrow(RangeError);
    expect(() => buildDfuseFile([{ alt: 0, name: 'a\0b', elements: [] }])).toThrow(RangeError);
    expect(() => buildDfuseFile([{ alt: 0, name: null, elements: [{ address: 0xffff_ffff, data: new Uint8Array(2) }] }])).toThrow(RangeError);
    expect(() => buildDfuseFile(Array.from({ length: 256 }, () => ({ alt: 0, name: null, elements: [] })))).toThrow(RangeError);
  });
});
