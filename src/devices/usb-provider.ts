// USB discovery: every device on the bus as a candidate (descriptors and port), through the `usb` package's WebUSB
// API and its hotplug events. The families' match() decides which ones are theirs.
import type { UsbCandidate } from '../contracts/family.js';
import type { CandidateProvider, CandidateSink } from '../contracts/provider.js';
import type { WebUsbDeviceLike } from '../contracts/webusb.js';
import { portPath } from './usb-identity.js';

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
  /** Where problems go (no USB bus, enumeration errors); default: nowhere. */
  log?: (message: string) => void;
}

/** The `usb` package, loaded only when discovery starts: a machine where its native part cannot load still runs. */
async function loadWebUsb(): Promise<WebUsbLike> {
  const mod = await import('usb');
  return mod.usb;
}

/** The candidate of one USB device, keyed by the port it is plugged into (`usb:1-2.3`). */
export function usbCandidate(device: NodeUsbDevice): UsbCandidate {
  const port = portPath(device.bus, device.ports);
  const serial = device.serialNumber?.trim() || undefined;
  const fallback = `${device.vendorId.toString(16)}:${device.productId.toString(16)}:${device.address ?? 0}`;
  return {
    kind: 'usb',
    key: `usb:${port ?? fallback}`,
    transport: 'usb',
    vendorId: device.vendorId,
    productId: device.productId,
    device,
    ...(port ? { port } : {}),
    ...(serial ? { serial } : {}),
  };
}

/** Every USB device, with its descriptors, as a candidate: the families decide which ones they claim. */
export function createUsbProvider(options: UsbProviderOptions = {}): CandidateProvider {
  let webusb: WebUsbLike | undefined = options.webusb;
  const log = options.log ?? (() => undefined);
  const offered = new Map<NodeUsbDevice, string>();
  let sink: CandidateSink | undefined;
  let listening = false;

  const consider = (device: NodeUsbDevice): void => {
    if (!sink || offered.has(device)) return;
    let candidate: UsbCandidate;
    try {
      candidate = usbCandidate(device);
    } catch (e) {
      log(`USB device skipped: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    offered.set(device, candidate.key);
    sink.offer(candidate);
  };

  const onConnect = (ev: Event & { device?: NodeUsbDevice }): void => {
    if (ev.device) consider(ev.device);
  };
  const onDisconnect = (ev: Event & { device?: NodeUsbDevice }): void => {
    const device = ev.device;
    if (!device) return;
    const key = offered.get(device) ?? [...offered.entries()].find(([d]) => sameDevice(d, device))?.[1];
    if (key === undefined) return;
    for (const [d, k] of offered) if (k === key) offered.delete(d);
    sink?.withdraw(key);
  };

  return {
    name: 'usb',
    async start(s: CandidateSink): Promise<void> {
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
      const keys = [...new Set(offered.values())];
      offered.clear();
      for (const key of keys) sink?.withdraw(key);
      sink = undefined;
    },
  };
}

function sameDevice(a: NodeUsbDevice, b: NodeUsbDevice): boolean {
  return a.bus === b.bus && a.address === b.address && a.vendorId === b.vendorId && a.productId === b.productId;
}
