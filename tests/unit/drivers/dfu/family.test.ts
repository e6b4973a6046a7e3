// The DFU family's cheap parts: which USB candidates it claims (DFU mode over runtime, a named one above all), and its
// command and step checks.
import { describe, expect, it } from 'vitest';
import type { UsbCandidate } from '../../../../src/contracts/family.js';
import type { WebUsbDeviceLike } from '../../../../src/contracts/webusb.js';
import { createDfuFamily } from '../../../../src/drivers/dfu/index.js';

function usb(cls: number, sub: number, protocol: number, named?: 'dfu'): UsbCandidate {
  const device = {
    vendorId: 0x0483,
    productId: 0xdf11,
    configurations: [
      {
        configurationValue: 1,
        interfaces: [
          {
            interfaceNumber: 0,
            claimed: false,
            alternate: { alternateSetting: 0, interfaceClass: cls, interfaceSubclass: sub, interfaceProtocol: protocol, endpoints: [] },
            alternates: [{ alternateSetting: 0, interfaceClass: cls, interfaceSubclass: sub, interfaceProtocol: protocol, endpoints: [] }],
          },
        ],
      },
    ],
  } as unknown as WebUsbDeviceLike;
  return { kind: 'usb', key: 'usb:1-1', transport: 'usb', vendorId: 0x0483, productId: 0xdf11, device, ...(named ? { protocol: named } : {}) };
}

describe('DFU family match', () => {
  const family = createDfuFamily();
  it('claims DFU mode above runtime mode, a named device above both, and nothing else', () => {
    expect(family.match(usb(0xfe, 0x01, 2))).toBe(60);
    expect(family.match(usb(0xfe, 0x01, 1))).toBe(20);
    expect(family.match(usb(0xfe, 0x01, 2, 'dfu'))).toBe(100);
    expect(family.match(usb(0xff, 0x42, 3))).toBeUndefined(); // fastboot
    expect(family.match(usb(0xfe, 0x02, 0))).toBeUndefined(); // IrDA bridge, same class
    expect(family.match({ kind: 'serial', key: 's', transport: 'serial', path: '/dev/ttyUSB0' })).toBeUndefined();
  });

  it('takes partitions, addresses and whole-device DfuSe files', () => {
    expect(family.targets).toEqual(['partition', 'address', 'whole']);
  });
});

describe('DFU family commands', () => {
  const family = createDfuFamily();
  it('knows detach, leave (with an optional numeric address) and unprotect', () => {
    expect(family.checkCommand?.('detach', undefined)).toBeUndefined();
    expect(family.checkCommand?.('unprotect', undefined)).toBeUndefined();
    expect(family.checkCommand?.('leave', { address: 0x08000000 })).toBeUndefined();
    expect(family.checkCommand?.('leave', { address: '0x0800' })).toMatch(/address/);
    expect(family.checkCommand?.('oem', undefined)).toMatch(/no command "oem"/);
    expect(family.commandStage?.('unprotect', undefined)).toBe('Removing read protection');
  });
});
