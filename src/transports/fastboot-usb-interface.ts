// Finds the fastboot interface (class FF, subclass 42, protocol 03) and its bulk endpoints on any vendor's device.
import type { UsbConfigurationLike, UsbEndpointLike, WebUsbDeviceLike } from '../contracts/webusb.js';
import type { UsbBulkInterface, UsbInterfaceFilter } from './usb.js';

export const FASTBOOT_CLASS = 0xff;
export const FASTBOOT_SUBCLASS = 0x42;
export const FASTBOOT_PROTOCOL = 0x03;

export type FastbootUsbInterface = UsbBulkInterface;

function bulk(endpoints: readonly UsbEndpointLike[], direction: 'in' | 'out'): UsbEndpointLike | undefined {
  // Only bulk endpoints count; SuperSpeed companion descriptors never appear as endpoints in WebUSB.
  return endpoints.find((e) => e.type === 'bulk' && e.direction === direction);
}

function inConfiguration(config: UsbConfigurationLike): FastbootUsbInterface | undefined {
  for (const iface of config.interfaces) {
    const alternates = iface.alternates.length ? iface.alternates : [iface.alternate];
    for (const alt of alternates) {
      if (alt.interfaceClass !== FASTBOOT_CLASS || alt.interfaceSubclass !== FASTBOOT_SUBCLASS) continue;
      if (alt.interfaceProtocol !== FASTBOOT_PROTOCOL) continue;
      const inEp = bulk(alt.endpoints, 'in');
      const outEp = bulk(alt.endpoints, 'out');
      if (!inEp || !outEp) continue;
      return {
        configurationValue: config.configurationValue,
        interfaceNumber: iface.interfaceNumber,
        alternateSetting: alt.alternateSetting,
        inEndpoint: inEp.endpointNumber,
        outEndpoint: outEp.endpointNumber,
        inPacketSize: inEp.packetSize > 0 ? inEp.packetSize : 512,
        outPacketSize: outEp.packetSize > 0 ? outEp.packetSize : 512,
      };
    }
  }
  return undefined;
}

/** The active configuration is searched first, then every other one. */
export function findFastbootInterface(device: WebUsbDeviceLike): FastbootUsbInterface | undefined {
  const active = device.configuration ?? undefined;
  if (active) {
    const found = inConfiguration(active);
    if (found) return found;
  }
  for (const config of device.configurations) {
    if (active && config.configurationValue === active.configurationValue) continue;
    const found = inConfiguration(config);
    if (found) return found;
  }
  return undefined;
}

/** True when the device shows a fastboot interface anywhere (used by discovery before opening it). */
export function hasFastbootInterface(device: WebUsbDeviceLike): boolean {
  return findFastbootInterface(device) !== undefined;
}

/** The fastboot interface filter for createWebUsbLink. */
export const FASTBOOT_USB: UsbInterfaceFilter = {
  find: findFastbootInterface,
  what: 'fastboot interface (class FF, subclass 42, protocol 03)',
  hints: { docs: 'docs/fastboot.md', holders: 'fastboot, adb' },
};
