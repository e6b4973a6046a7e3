// Serial discovery: only known bridges become candidates, hot-plug by polling, explicit --serial-port specs.
import { afterEach, describe, expect, it } from 'vitest';
import type { Candidate } from '../../../src/contracts/family.js';
import {
  candidateFromListing,
  createSerialProvider,
  knownBridge,
  parseSerialPortSpec,
  type CandidateProvider,
  type ListedPort,
} from '../../../src/devices/serial-provider.js';
import { until } from '../../helpers/until.js';

function recorder(): { offered: Candidate[]; withdrawn: string[]; sink: { offer(c: Candidate): void; withdraw(k: string): void } } {
  const offered: Candidate[] = [];
  const withdrawn: string[] = [];
  return { offered, withdrawn, sink: { offer: (c) => offered.push(c), withdraw: (k) => withdrawn.push(k) } };
}

describe('serial provider', () => {
  let provider: CandidateProvider | undefined;
  afterEach(async () => {
    await provider?.stop();
    provider = undefined;
  });

  it('knows the common bridges and native USB ids, and nothing else', () => {
    expect(knownBridge(0x10c4, 0xea60)).toMatch(/CP210x/);
    expect(knownBridge(0x1a86, 0x7523)).toMatch(/CH340/);
    expect(knownBridge(0x0403, 0x6015)).toMatch(/FTDI/);
    expect(knownBridge(0x303a, 0x1001)).toMatch(/Espressif/);
    expect(knownBridge(0x0483, 0x374b)).toMatch(/ST-Link/);
    expect(knownBridge(0x067b, 0x2303)).toMatch(/Prolific/);
    expect(knownBridge(0x2341, 0x0043)).toBeUndefined(); // an Arduino Uno's own USB: not ours to poke
    expect(knownBridge(undefined, undefined)).toBeUndefined();
  });

  it('turns a listed bridge into a candidate and skips ports without a known VID:PID', () => {
    expect(candidateFromListing({ path: '/dev/ttyUSB0', vendorId: '10c4', productId: 'EA60', serialNumber: '0001' })).toMatchObject({
      kind: 'serial', key: '/dev/ttyUSB0', path: '/dev/ttyUSB0', transport: 'serial', vendorId: 0x10c4, productId: 0xea60, serial: '0001',
    });
    expect(candidateFromListing({ path: '/dev/ttyS0' })).toBeUndefined();
    expect(candidateFromListing({ path: '/dev/ttyACM0', vendorId: '1d50', productId: '6018' })).toBeUndefined();
  });

  it('parses --serial-port specs and refuses bad ones by name', () => {
    expect(parseSerialPortSpec('/dev/pts/3')).toEqual({ path: '/dev/pts/3' });
    expect(parseSerialPortSpec('/tmp/tty?protocol=stm32&baud=57600')).toEqual({ path: '/tmp/tty', protocol: 'stm32', baudRate: 57600 });
    expect(() => parseSerialPortSpec('/tmp/tty?protocol=fastboot')).toThrow(/protocol must be one of esp, stm32/);
    expect(() => parseSerialPortSpec('/tmp/tty?baud=fast')).toThrow(/baud must be/);
    expect(() => parseSerialPortSpec('/tmp/tty?speed=1')).toThrow(/unknown key "speed"/);
    expect(() => parseSerialPortSpec('?baud=9600')).toThrow(/give a port path/);
  });

  it('offers bridges that appear and withdraws the ones that vanish, polling the list', async () => {
    let ports: ListedPort[] = [{ path: '/dev/ttyS0' }, { path: '/dev/ttyUSB0', vendorId: '1a86', productId: '7523' }];
    const r = recorder();
    provider = createSerialProvider({ list: async () => ports, pollMs: 10 });
    await provider.start(r.sink);
    expect(r.offered.map((c) => c.key)).toEqual(['/dev/ttyUSB0']);
    ports = [{ path: '/dev/ttyS0' }, { path: '/dev/ttyUSB0', vendorId: '1a86', productId: '7523' }, { path: '/dev/ttyACM0', vendorId: '303a', productId: '1001' }];
    await until(() => r.offered.length === 2);
    expect(r.offered[1]?.key).toBe('/dev/ttyACM0');
    ports = [{ path: '/dev/ttyACM0', vendorId: '303a', productId: '1001' }];
    await until(() => r.withdrawn.length === 1);
    expect(r.withdrawn).toEqual(['/dev/ttyUSB0']);
    expect(r.offered).toHaveLength(2);
  });

  it('keeps offered ports while the lister fails, and reports the failure once', async () => {
    let fail = false;
    let calls = 0;
    const errors: string[] = [];
    const r = recorder();
    provider = createSerialProvider({
      list: async () => {
        calls++;
        if (fail) throw new Error('udevadm not found');
        return [{ path: '/dev/ttyUSB0', vendorId: '0403', productId: '6001' }];
      },
      pollMs: 5,
      onError: (m) => errors.push(m),
    });
    await provider.start(r.sink);
    fail = true;
    const at = calls;
    await until(() => calls > at + 3);
    expect(r.withdrawn).toEqual([]);
    expect(errors).toEqual(['Serial ports could not be listed: udevadm not found']);
  });

  it('offers explicit ports whatever their ids, while they exist, with the protocol and baud asked for', async () => {
    const present = new Set(['/tmp/pty-a']);
    const r = recorder();
    provider = createSerialProvider({
      ports: ['/tmp/pty-a?protocol=stm32&baud=115200', '/tmp/pty-b'],
      discover: false,
      exists: (p) => present.has(p),
      pollMs: 5,
    });
    await provider.start(r.sink);
    expect(r.offered).toEqual([{ kind: 'serial', key: '/tmp/pty-a', transport: 'serial', path: '/tmp/pty-a', port: '/tmp/pty-a', protocol: 'stm32', baudRate: 115200 }]);
    present.add('/tmp/pty-b');
    present.delete('/tmp/pty-a');
    await until(() => r.withdrawn.length === 1 && r.offered.length === 2);
    expect(r.withdrawn).toEqual(['/tmp/pty-a']);
    expect(r.offered[1]?.key).toBe('/tmp/pty-b');
  });
});
