// The `other` slot choice (system_other.img of a factory image): the slot that is not current; skipped without slots.
import { describe, expect, it } from 'vitest';
import { resolveTargets } from '../../../src/drivers/fastboot/targets.js';

describe('slot other', () => {
  it('writes the slot that is not current', () => {
    expect(resolveTargets('system', 'other', { hasSlot: true, currentSlot: 'a' })).toEqual({ targets: ['system_b'] });
    expect(resolveTargets('system', 'other', { hasSlot: true, currentSlot: 'b' })).toEqual({ targets: ['system_a'] });
  });

  it('writes nothing, with a note, on a device without slots (fastboot update skips secondary images there)', () => {
    const r = resolveTargets('system', 'other', { hasSlot: false, currentSlot: undefined });
    expect(r.targets).toEqual([]);
    expect(r.note).toMatch(/no A\/B slots.*other slot is skipped/);
  });

  it('refuses when the device does not say which slot is current', () => {
    expect(() => resolveTargets('system', 'other', { hasSlot: true, currentSlot: undefined })).toThrow(/current-slot/);
    expect(() => resolveTargets('system', 'other', { hasSlot: true, currentSlot: 'c' })).toThrow(/other slot is not known/);
  });
});
