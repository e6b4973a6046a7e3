// Device identity: network addresses and USB port paths / ids.
import { describe, expect, it } from 'vitest';
import { parseNetworkUri } from '../../../src/devices/network-uri.js';
import { portPath } from '../../../src/devices/usb-identity.js';
import { usbCandidate } from '../../../src/devices/usb-provider.js';

describe('network addresses', () => {
  it('default to port 5554 and make ids tcp:HOST:PORT', () => {
    expect(parseNetworkUri('tcp:192.168.1.5', 5554)).toEqual({ transport: 'tcp', host: '192.168.1.5', port: 5554, id: 'tcp:192.168.1.5:5554' });
    expect(parseNetworkUri('tcp:10.0.0.2')).toEqual({ transport: 'tcp', host: '10.0.0.2', id: 'tcp:10.0.0.2' });
    expect(parseNetworkUri('udp:Phone.local:1234')).toMatchObject({ transport: 'udp', host: 'phone.local', port: 1234, id: 'udp:phone.local:1234' });
    expect(parseNetworkUri('tcp:[::1]:5555')).toMatchObject({ host: '::1', port: 5555, id: 'tcp:[::1]:5555' });
  });
  it('refuse anything else with a message naming the forms', () => {
    for (const bad of ['http:x', 'tcp:', 'tcp:host:0', 'tcp:host:70000', 'usb:1-2', 'tcp:a b']) {
      expect(() => parseNetworkUri(bad), bad).toThrow(/tcp:HOST\[:PORT\]|outside 1–65535/);
    }
  });
});

describe('usb identity', () => {
  it('builds port paths from bus and port chain', () => {
    expect(portPath('1', [2, 3])).toBe('1-2.3');
    expect(portPath(3, [1])).toBe('3-1');
    expect(portPath('2-1.4', [1, 4])).toBe('2-1.4');
    expect(portPath(undefined, [1])).toBeUndefined();
  });
  it('keys a USB candidate by its port, else by vendor:product:address, and keeps its serial', () => {
    const dev = (serialNumber: string | null, bus?: string, ports?: number[]) =>
      ({ vendorId: 0x18d1, productId: 0x4ee0, serialNumber, address: 7, bus, ports, configurations: [] }) as unknown as Parameters<typeof usbCandidate>[0];
    expect(usbCandidate(dev('ABC123', '1', [2]))).toMatchObject({ key: 'usb:1-2', port: '1-2', serial: 'ABC123', kind: 'usb' });
    expect(usbCandidate(dev('  ', '1', [4])).serial).toBeUndefined();
    expect(usbCandidate(dev(null)).key).toBe('usb:18d1:4ee0:7');
  });
});
