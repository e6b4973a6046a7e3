// The desktop app's command line takes serve's serial options: `--serial-port` (repeatable, both spellings), `--no-serial`.
import { describe, expect, it } from 'vitest';
import { parseDesktopArgs } from '../../../src/main/args.js';

describe('desktop --serial-port', () => {
  it('collects every --serial-port in order, with --no-serial', () => {
    expect(parseDesktopArgs(['.', '--serial-port', '/dev/pts/3?protocol=esp', '--serial-port=/dev/ttyUSB1?protocol=stm32&baud=57600', '--no-serial'])).toEqual({
      serialPorts: ['/dev/pts/3?protocol=esp', '/dev/ttyUSB1?protocol=stm32&baud=57600'],
      serial: false,
    });
  });
  it('ignores a --serial-port without a value', () => {
    expect(parseDesktopArgs(['--serial-port']).serialPorts).toBeUndefined();
  });
});
