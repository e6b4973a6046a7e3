// Fastboot wire text: responses, numbers, command formatting, getvar-all lines, slot targets, requirements.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FlashError } from '../../../src/core/errors.js';
import { checkCommand, formatDownload, normaliseSlot, parseNumber, parseResponse } from '../../../src/drivers/fastboot/protocol.js';
import { hasSlot, infoFrom, parseVarLine, parseVarLines, partitionsFrom } from '../../../src/drivers/fastboot/variables.js';
import { resolveTargets } from '../../../src/drivers/fastboot/targets.js';
import { requirementMet } from '../../../src/drivers/fastboot/android-info.js';
import { formatFetch } from '../../../src/drivers/fastboot/verify.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('parseResponse', () => {
  it('reads the four statuses with their text', () => {
    expect(parseResponse(bytes('INFOhello there'))).toEqual({ kind: 'INFO', text: 'hello there' });
    expect(parseResponse(bytes('TEXTraw'))).toEqual({ kind: 'TEXT', text: 'raw' });
    expect(parseResponse(bytes('OKAY0x10000000'))).toEqual({ kind: 'OKAY', text: '0x10000000' });
    expect(parseResponse(bytes('FAILunknown partition'))).toEqual({ kind: 'FAIL', text: 'unknown partition' });
    expect(parseResponse(bytes('OKAY'))).toEqual({ kind: 'OKAY', text: '' });
  });

  it('reads DATA sizes in hex', () => {
    expect(parseResponse(bytes('DATA10000000'))).toEqual({ kind: 'DATA', size: 0x10000000 });
    expect(parseResponse(bytes('DATA0000abcd'))).toEqual({ kind: 'DATA', size: 0xabcd });
  });

  it('rejects unknown statuses, short packets and bad DATA sizes as protocol errors', () => {
    for (const bad of ['BUSYwait', 'OK', '', 'DATAxyz', 'DATA', 'DATA123456789']) {
      let err: unknown;
      try {
        parseResponse(bytes(bad));
      } catch (e) {
        err = e;
      }
      expect(err, bad).toBeInstanceOf(FlashError);
      expect((err as FlashError).code).toBe('protocol_error');
    }
  });

  it('round-trips any DATA size', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => {
        const r = parseResponse(bytes(`DATA${n.toString(16).padStart(8, '0')}`));
        expect(r).toEqual({ kind: 'DATA', size: n });
      }),
    );
  });
});

describe('parseNumber', () => {
  it('accepts 0x hex and decimal, rejects the rest', () => {
    expect(parseNumber('0x10000000')).toBe(268435456);
    expect(parseNumber('0X1f')).toBe(31);
    expect(parseNumber('268435456')).toBe(268435456);
    expect(parseNumber(' 42 ')).toBe(42);
    expect(parseNumber('1f')).toBeUndefined();
    expect(parseNumber('1f', { assumeHex: true })).toBe(31);
    expect(parseNumber('')).toBeUndefined();
    expect(parseNumber('-1')).toBeUndefined();
    expect(parseNumber(undefined)).toBeUndefined();
  });

  it('reads back what it is given, in hex or decimal', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.boolean(), (n, hex) => {
        expect(parseNumber(hex ? `0x${n.toString(16)}` : String(n))).toBe(n);
      }),
    );
  });
});

describe('commands', () => {
  it('formats download as 8 lowercase hex digits and refuses 0 or more than 32 bits', () => {
    expect(formatDownload(0x1234abcd)).toBe('download:1234abcd');
    expect(formatDownload(1)).toBe('download:00000001');
    expect(() => formatDownload(0)).toThrow(FlashError);
    expect(() => formatDownload(2 ** 32)).toThrow(FlashError);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 0xffffffff }), (n) => {
        const c = formatDownload(n);
        expect(c).toMatch(/^download:[0-9a-f]{8}$/);
        expect(parseInt(c.slice(9), 16)).toBe(n);
      }),
    );
  });

  it('limits command length and characters', () => {
    expect(checkCommand('getvar:product', 64)).toBe('getvar:product');
    expect(() => checkCommand(`oem ${'x'.repeat(61)}`, 64)).toThrow(/at most 64/);
    expect(() => checkCommand('flash:a\nb')).toThrow(FlashError);
    expect(() => checkCommand('')).toThrow(FlashError);
  });

  it('formats fetch like AOSP', () => {
    expect(formatFetch('boot_a', 0, 4096)).toBe('fetch:boot_a:0x00000000:0x00001000');
  });
});

describe('getvar all lines', () => {
  const lines = [
    'version:0.4',
    'partition-size:system_a: 0x40000000',
    'partition-size:boot_a:0x4000000',
    'partition-type:system_a:ext4',
    'has-slot:system:yes',
    'is-logical:system_a:no',
    'max-download-size:0x10000000',
    'product:sim',
    'serialno:SIM0001',
    'current-slot:_a',
    'slot-count:2',
    'secure:no',
    'unlocked:yes',
    'version-bootloader:sim-1.0:beta',
  ];

  it('splits keyed variables on their sub-key and others on the first colon', () => {
    expect(parseVarLine('partition-size:system_a: 0x40000000')).toEqual(['partition-size:system_a', '0x40000000']);
    expect(parseVarLine('version-bootloader:sim-1.0:beta')).toEqual(['version-bootloader', 'sim-1.0:beta']);
    expect(parseVarLine('nonsense')).toBeUndefined();
  });

  it('yields partitions with sizes, slot facts and device info', () => {
    const vars = parseVarLines(lines);
    expect(partitionsFrom(vars)).toEqual([
      { name: 'system_a', size: 0x40000000 },
      { name: 'boot_a', size: 0x4000000 },
    ]);
    expect(hasSlot(vars, 'system')).toBe(true);
    expect(hasSlot(vars, 'boot')).toBe(true);
    const info = infoFrom(vars, 0x10000000);
    expect(info).toMatchObject({ product: 'sim', serialno: 'SIM0001', 'current-slot': 'a', 'slot-count': 2, secure: false, unlocked: true });
    expect(info['max-download-size']).toBe(0x10000000);
  });

  it('strips the leading underscore of current-slot', () => {
    expect(normaliseSlot('_b')).toBe('b');
    expect(normaliseSlot('a')).toBe('a');
    expect(normaliseSlot('')).toBeUndefined();
  });
});

describe('slot targets', () => {
  const ab = { hasSlot: true, currentSlot: 'b' };
  it('writes the asked slot, both, or the current one', () => {
    expect(resolveTargets('boot', 'a', ab).targets).toEqual(['boot_a']);
    expect(resolveTargets('boot', 'all', ab).targets).toEqual(['boot_a', 'boot_b']);
    expect(resolveTargets('boot', 'current', ab).targets).toEqual(['boot_b']);
    expect(resolveTargets('boot', undefined, ab).targets).toEqual(['boot_b']);
  });
  it('writes the partition itself when it has no slots, saying so if a slot was asked', () => {
    const r = resolveTargets('userdata', 'a', { hasSlot: false, currentSlot: 'a' });
    expect(r.targets).toEqual(['userdata']);
    expect(r.note).toMatch(/no A\/B slots/);
    expect(resolveTargets('boot_a', undefined, { hasSlot: undefined, currentSlot: undefined }).targets).toEqual(['boot_a']);
  });
  it('refuses to guess when the device does not name its current slot', () => {
    expect(() => resolveTargets('boot', undefined, { hasSlot: true, currentSlot: undefined })).toThrow(/current-slot/);
  });
});

describe('requirements', () => {
  it('match exactly or by trailing-* prefix', () => {
    expect(requirementMet(['marlin', 'sailfish'], 'sailfish')).toBe(true);
    expect(requirementMet(['8996-012001-*'], '8996-012001-1908071822')).toBe(true);
    expect(requirementMet(['marlin', 'sailfish'], 'walleye')).toBe(false);
    expect(requirementMet(['sailfish'], 'Sailfish')).toBe(false);
  });
});
