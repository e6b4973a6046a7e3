// Device identity: network addresses and USB port paths / ids.
import { describe, expect, it } from 'vitest';
import { parseNetworkUri } from '../../../src/devices/network-uri.js';
import { portPath, usbDeviceId } from '../../../src/devices/usb-identity.js';

describe('network addresses', () => {
  it('default to port 5554 and make ids tcp:HOST:PORT', () => {
    expect(parseNetworkUri('tcp:192.168.1.5')).toEqual({ transport: 'tcp', host: '192.168.1.5', port: 5554, id: 'tcp:192.168.1.5:5554' });
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
  it('uses the serial when unique, else the port', () => {
    expect(usbDeviceId('ABC123', '1-2', new Set(), 'x')).toBe('ABC123');
    expect(usbDeviceId('ABC123', '1-3', new Set(['ABC123']), 'x')).toBe('usb:1-3');
    expect(usbDeviceId('', '1-4', new Set(), 'x')).toBe('usb:1-4');
    expect(usbDeviceId(null, undefined, new Set(), '18d1:4ee0:7')).toBe('usb:18d1:4ee0:7');
  });
});
