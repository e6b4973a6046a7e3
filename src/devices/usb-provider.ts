// USB discovery: fastboot interfaces (FF/42/03) on any vendor through the `usb` package's WebUSB API and hotplug.
import type { AttachedDevice, DeviceProvider, DeviceSink, Driver } from '../core/types.js';
import { fastbootDriver } from '../drivers/fastboot/index.js';
import { createWebUsbLink, type WebUsbLinkOptions } from '../transports/usb.js';
import { hasFastbootInterface } from '../transports/usb-interface.js';
import type { WebUsbDeviceLike } from '../contracts/webusb.js';
import { portPath, usbDeviceId } from './usb-identity.js';

/** What the `usb` package's WebUSB devices add to the WebUSB shape: where they are plugged in. */
type NodeUsbDevice = WebUsbDeviceLike & { bus?: string; ports?: number[]; address?: number };

/** The parts of the `usb` package's WebUSB object this provider uses (so tests may pass another one). */
export interface WebUsbLike {
  getDevices(): Promise<NodeUsbDevice[]>;
  addEventListener(type: 'connect' | 'disconnect', listener: (ev: Event & { device?: NodeUsbDevice }) => void): void;
  removeEventListener(type: 'connect' | 'disconnect', listener: (ev: Event & { device?: NodeUsbDevice }) => void): void;
}

export interface UsbProviderOptions {
  webusb?: WebUsbLike;
  driver?: Driver;
  link?: WebUsbLinkOptions;
  /** Where problems go (no USB bus, enumeration errors); default: nowhere. */
  log?: (message: string) => void;
}

/** The `usb` package, loaded only when discovery starts: a machine where its native part cannot load still runs. */
async function loadWebUsb(): Promise<WebUsbLike> {
  const mod = await import('usb');
  return mod.usb as unknown as WebUsbLike;
}

export function createUsbProvider(options: UsbProviderOptions = {}): DeviceProvider {
  let webusb: WebUsbLike | undefined = options.webusb;
  const driver = options.driver ?? fastbootDriver;
  const log = options.log ?? (() => undefined);
  const attached = new Map<NodeUsbDevice, { id: string; serial?: string }>();
  let sink: DeviceSink | undefined;
  let listening = false;

  const serialsInUse = (): Set<string> => new Set([...attached.values()].flatMap((a) => (a.serial ? [a.serial] : [])));

  const consider = (device: NodeUsbDevice): void => {
    if (!sink || attached.has(device)) return;
    let fastboot = false;
    try {
      fastboot = hasFastbootInterface(device);
    } catch {
      fastboot = false;
    }
    if (!fastboot) return;
    const port = portPath(device.bus, device.ports);
    const serial = device.serialNumber?.trim() || undefined;
    const id = usbDeviceId(serial, port, serialsInUse(), `${device.vendorId.toString(16)}:${device.productId.toString(16)}:${device.address ?? 0}`);
    attached.set(device, { id, ...(serial ? { serial } : {}) });
    const label = `USB device ${serial ?? id}${port ? ` at ${port}` : ''}`;
    const entry: AttachedDevice = {
      device: {
        id,
        protocol: 'fastboot',
        transport: 'usb',
        name: device.productName ?? 'fastboot device',
        serial: serial ?? '',
        ...(port ? { port } : {}),
        info: {
          vendorId: device.vendorId,
          productId: device.productId,
          ...(device.manufacturerName ? { manufacturer: device.manufacturerName } : {}),
        },
      },
      driver,
      link: createWebUsbLink(device, { ...options.link, kind: 'usb', label }),
    };
    sink.attach(entry);
  };

  const onConnect = (ev: Event & { device?: NodeUsbDevice }): void => {
    if (ev.device) consider(ev.device);
  };
  const onDisconnect = (ev: Event & { device?: NodeUsbDevice }): void => {
    const device = ev.device;
    if (!device) return;
    const a = attached.get(device) ?? [...attached.entries()].find(([d]) => sameDevice(d, device))?.[1];
    if (!a) return;
    for (const [d, v] of attached) if (v === a) attached.delete(d);
    sink?.detach(a.id);
  };

  return {
    name: 'usb',
    async start(s: DeviceSink): Promise<void> {
      sink = s;
      let devices: NodeUsbDevice[];
      try {
        webusb ??= await loadWebUsb();
        devices = await webusb.getDevices();
      } catch (e) {
        // No USB bus here (containers, CI): nothing to discover, and hotplug would fail the same way.
        log(`USB discovery is off: ${e instanceof Error ? e.message : String(e)}`);
        return;
      }
      webusb.addEventListener('connect', onConnect);
      webusb.addEventListener('disconnect', onDisconnect);
      listening = true;
      for (const d of devices) consider(d);
    },
    async stop(): Promise<void> {
      if (listening && webusb) {
        webusb.removeEventListener('connect', onConnect);
        webusb.removeEventListener('disconnect', onDisconnect);
        listening = false;
      }
      const ids = [...new Set([...attached.values()].map((a) => a.id))];
      attached.clear();
      for (const id of ids) sink?.detach(id);
      sink = undefined;
    },
  };
}

function sameDevice(a: NodeUsbDevice, b: NodeUsbDevice): boolean {
  return a.bus === b.bus && a.address === b.address && a.vendorId === b.vendorId && a.productId === b.productId;
}
