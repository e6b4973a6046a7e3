// Device selectors (many-device start_flash, auto-flash rules), partition lookup with slot suffixes, stage sentences.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { globToRegExp, matchesSelector } from '../../../src/core/device-select.js';
import { findPartition } from '../../../src/core/job-request.js';
import { stageFor } from '../../../src/core/step-stage.js';
import { fastbootFamily } from '../../../src/drivers/fastboot/index.js';
import type { Device } from '../../../src/protocol/messages.js';

const device = (over: Partial<Device> = {}): Device => ({
  id: 'R58M1234', protocol: 'fastboot', transport: 'usb', name: 'Pixel', serial: 'R58M1234', state: 'idle',
  info: { product: 'sailfish' }, partitions: [{ name: 'boot_a', size: 64 }, { name: 'boot_b', size: 64 }, { name: 'system', size: 1024 }],
  ...over,
});

describe('selectors', () => {
  it('matches every given field, globs on serial and product, case-insensitively', () => {
    expect(matchesSelector(device(), {})).toBe(true);
    expect(matchesSelector(device(), { protocol: 'fastboot', state: 'idle', serial: 'r58m*' })).toBe(true);
    expect(matchesSelector(device(), { product: 'sail?ish' })).toBe(true);
    expect(matchesSelector(device(), { transport: 'tcp' })).toBe(false);
    expect(matchesSelector(device({ state: 'busy' }), { state: 'idle' })).toBe(false);
    expect(matchesSelector(device({ info: {} }), { product: '*' })).toBe(false);
  });

  it('treats regex characters in a glob literally', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (s) => {
        const literal = s.replace(/[*?]/g, '');
        expect(globToRegExp(literal).test(literal)).toBe(true);
        expect(globToRegExp(`${literal}*`).test(`${literal}anything`)).toBe(true);
      }),
    );
    expect(globToRegExp('a.b').test('axb')).toBe(false);
  });
});

describe('partitions', () => {
  it('finds a partition by name or slot suffix; null when the device lists none', () => {
    expect(findPartition(device(), fastbootFamily, 'system')?.size).toBe(1024);
    expect(findPartition(device(), fastbootFamily, 'boot')?.name).toBe('boot_a');
    expect(findPartition(device(), fastbootFamily, 'vendor')).toBeUndefined();
    expect(findPartition(device({ partitions: [] }), fastbootFamily, 'vendor')).toBeNull();
    expect(findPartition(undefined, fastbootFamily, 'vendor')).toBeNull();
    // Without the family's slot rule only the exact name matches.
    expect(findPartition(device(), undefined, 'boot')).toBeUndefined();
  });
});

describe('stage sentences', () => {
  it('says what a step does and where it is in the plan', () => {
    expect(stageFor({ op: 'erase', target: { partition: 'userdata' } }, 1, 3)).toBe('Erasing userdata partition (2/3)');
    expect(stageFor({ op: 'reboot', mode: 'system' }, 2, 3)).toBe('Rebooting (3/3)');
    expect(stageFor({ op: 'reboot', mode: 'hard' }, 3, 4)).toBe('Starting the application (4/4)');
    const at = (address: number) => stageFor({ op: 'flash', target: { address }, image: { name: 'a', location: 'a', open: async () => Promise.reject(new Error('unused')) } }, 0, 1);
    expect(at(0x0800_0000)).toBe('Writing 0x08000000 (1/1)'); // as STM32 data sheets write it
    expect(at(0x1000)).toBe('Writing 0x1000 (1/1)');
    expect(stageFor({ op: 'reboot', mode: 'go' }, 1, 2)).toBe('Starting the application (2/2)');
    expect(stageFor({ op: 'reboot', mode: 'bootloader' }, 0, 1)).toBe('Rebooting to bootloader (1/1)');
    expect(stageFor({ op: 'command', name: 'set_active', args: { slot: 'b' } }, 0, 1, fastbootFamily)).toBe('Setting active slot b (1/1)');
    expect(stageFor({ op: 'flash', target: { address: 0x10000 }, image: { name: 'a', location: 'a', open: async () => Promise.reject(new Error('unused')) } }, 0, 2)).toBe('Writing 0x10000 (1/2)');
  });
});
