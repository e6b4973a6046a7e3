// What a DFU device says about itself: its DFU interfaces and alt settings (class FE/01, protocol 1 runtime or 2 DFU
// mode), their names, and the DFU functional descriptor (0x21: attributes, wDetachTimeOut, wTransferSize, version).
import { FlashError } from '../../contracts/errors.js';
import type { WebUsbDeviceLike } from '../../contracts/webusb.js';
import type { UsbControl } from '../../transports/usb-control.js';

export const DFU_CLASS = 0xfe;
export const DFU_SUBCLASS = 0x01;
export const DFU_PROTOCOL_RUNTIME = 1;
export const DFU_PROTOCOL_DFU = 2;
export const DFUSE_VERSION = 0x011a;

export interface DfuFunctional {
  canDownload: boolean;
  canUpload: boolean;
  manifestationTolerant: boolean;
  willDetach: boolean;
  detachTimeoutMs: number;
  transferSize: number;
  version: number;
}

export interface DfuAlt {
  alt: number;
  name: string;
  /** String descriptor index of the name (0 = none). */
  iInterface: number;
}

export interface DfuInterfaceInfo {
  interfaceNumber: number;
  /** 1 runtime, 2 DFU mode. */
  protocol: number;
  alts: DfuAlt[];
  functional: DfuFunctional;
}

/** From the WebUSB descriptors alone, no I/O: the DFU interface and its protocol, if the device has one. */
export function findDfuInterface(device: WebUsbDeviceLike): { interfaceNumber: number; protocol: number } | undefined {
  for (const config of device.configuration ? [device.configuration] : device.configurations) {
    for (const iface of config.interfaces) {
      const alts = iface.alternates.length ? iface.alternates : [iface.alternate];
      for (const a of alts) {
        if (a.interfaceClass === DFU_CLASS && a.interfaceSubclass === DFU_SUBCLASS && (a.interfaceProtocol === 1 || a.interfaceProtocol === 2)) {
          return { interfaceNumber: iface.interfaceNumber, protocol: a.interfaceProtocol };
        }
      }
    }
  }
  return undefined;
}

export function parseFunctional(d: Uint8Array, at: number): DfuFunctional {
  const attrs = d[at + 2] ?? 0;
  const u16 = (o: number): number => (d[at + o] ?? 0) | ((d[at + o + 1] ?? 0) << 8);
  const len = d[at] ?? 0;
  return {
    canDownload: (attrs & 1) !== 0,
    canUpload: (attrs & 2) !== 0,
    manifestationTolerant: (attrs & 4) !== 0,
    willDetach: (attrs & 8) !== 0,
    detachTimeoutMs: u16(3),
    transferSize: u16(5),
    // DFU 1.0 descriptors are 7 bytes, without bcdDFUVersion.
    version: len >= 9 ? u16(7) : 0x0100,
  };
}

/** Walks a configuration descriptor for the DFU interface, its alternates and the functional descriptor. */
export function parseConfiguration(d: Uint8Array): Omit<DfuInterfaceInfo, 'alts'> & { alts: Omit<DfuAlt, 'name'>[] } {
  let found: { interfaceNumber: number; protocol: number } | undefined;
  const alts: Omit<DfuAlt, 'name'>[] = [];
  let functional: DfuFunctional | undefined;
  let inDfu = false;
  for (let at = d[0] ?? 0; at + 2 <= d.length; ) {
    const len = d[at]!;
    const type = d[at + 1]!;
    if (len < 2 || at + len > d.length) break;
    if (type === 4 && len >= 9) {
      inDfu = d[at + 5] === DFU_CLASS && d[at + 6] === DFU_SUBCLASS;
      if (inDfu && (!found || found.interfaceNumber === d[at + 2])) {
        found ??= { interfaceNumber: d[at + 2]!, protocol: d[at + 7]! };
        alts.push({ alt: d[at + 3]!, iInterface: d[at + 8]! });
      }
    } else if (type === 0x21 && inDfu && len >= 7) {
      functional ??= parseFunctional(d, at);
    }
    at += len;
  }
  if (!found) throw new FlashError('unsupported', 'The device has no DFU interface (class FE, subclass 01) in its configuration descriptor');
  if (!functional) throw new FlashError('protocol_error', 'The DFU interface has no DFU functional descriptor (0x21)');
  if (functional.transferSize === 0) throw new FlashError('protocol_error', 'The DFU functional descriptor says wTransferSize 0');
  return { ...found, alts, functional };
}

/** Reads the active configuration's DFU interface, naming alternates from WebUSB or their string descriptors. */
export async function readDfuInterface(control: UsbControl, signal?: AbortSignal): Promise<DfuInterfaceInfo> {
  const device = control.device;
  const configs = device.configurations;
  const active = device.configuration?.configurationValue;
  const index = Math.max(0, configs.findIndex((c) => c.configurationValue === active));
  const raw = parseConfiguration(await control.configurationDescriptor(index, { signal }));
  const known = (device.configuration ?? configs[index])?.interfaces.find((i) => i.interfaceNumber === raw.interfaceNumber);
  const alts: DfuAlt[] = [];
  for (const a of raw.alts) {
    let name = known?.alternates.find((x) => x.alternateSetting === a.alt)?.interfaceName ?? '';
    if (!name && a.iInterface > 0) name = await control.string(a.iInterface, undefined, { signal }).catch(() => '');
    alts.push({ ...a, name: name || `alt${a.alt}` });
  }
  return { interfaceNumber: raw.interfaceNumber, protocol: raw.protocol, alts, functional: raw.functional };
}
