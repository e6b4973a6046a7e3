// What a tile lists about a device: product, serial, port, then the family's info keys, readable and said once.
import { describe, expect, it } from 'vitest';
import { deviceFacts, deviceKind } from '../../../src/renderer/lib/device-facts.js';
import type { Device } from '../../../src/protocol/messages.js';

const base: Device = { id: 'X', protocol: 'esp', transport: 'serial', name: 'ESP32-D0WD-V3 (revision 3)', serial: '240ac4854707', state: 'idle', port: '/dev/ttyUSB0', info: {} };

describe('device facts', () => {
  it('lists an ESP board\'s chip, flash size and MAC, sizes readable, station keys left out', () => {
    const d: Device = { ...base, info: { chip: 'ESP32', flash_size: 4 * 1024 * 1024, mac: '24:0a:c4:85:47:07', station: 'done', stationSucceeded: 2 } };
    expect(deviceFacts(d)).toEqual([
      { label: 'Product', value: 'ESP32-D0WD-V3 (revision 3)' },
      { label: 'Serial', value: '240ac4854707' },
      { label: 'Port', value: '/dev/ttyUSB0' },
      { label: 'Chip', value: 'ESP32' },
      { label: 'Flash', value: '4.00 MiB' },
      { label: 'MAC', value: '24:0a:c4:85:47:07' },
    ]);
  });
  it('says an STM32\'s chip once (its name is the chip), and its protection as yes/no', () => {
    const d: Device = { ...base, protocol: 'stm32', name: 'STM32F10x medium-density', serial: '', info: { chip: 'STM32F10x medium-density', flash_size: 131072, bootloader: '2.2', readout_protected: true } };
    expect(deviceFacts(d).map((f) => `${f.label}=${f.value}`)).toEqual([
      'Product=STM32F10x medium-density', 'Serial=—', 'Port=/dev/ttyUSB0', 'Flash=128 KiB', 'Bootloader=2.2', 'Read-out protection=yes',
    ]);
  });
  it('names the kind once when protocol and transport agree', () => {
    expect(deviceKind({ protocol: 'esp', transport: 'serial' })).toBe('esp · serial');
    expect(deviceKind({ protocol: 'block', transport: 'block' })).toBe('block');
  });
});
