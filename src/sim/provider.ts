// `--sim SPEC` devices inside the station: each simulator is offered as a WebUSB-shaped device that our USB transport
// opens (transport `sim`), detached while it reboots and attached again, under the same serial, when it is back.
import { join } from 'node:path';
import { FlashError } from '../contracts/errors.js';
import type { AttachedDevice, DeviceProvider, DeviceSink, Driver } from '../core/types.js';
import { fastbootDriver } from '../drivers/fastboot/index.js';
import { createWebUsbLink, type WebUsbLinkOptions } from '../transports/usb.js';
import { FastbootSimDevice } from './fastboot/device.js';
import { SimUsbDevice, type SimUsbOptions } from './fastboot/usb-face.js';
import { parseSimSpec, type SimSpec } from './spec.js';

export interface SimProviderOptions {
  /** Partitions live in `DATA_DIR/sim/SERIAL/NAME.img`. */
  dataDir: string;
  usb?: SimUsbOptions;
  /** Options for the USB link our transport opens on each simulator (transfer size, in-flight count, timeouts). */
  link?: WebUsbLinkOptions;
  /** Driver for the attached devices (default `fastbootDriver`). */
  driver?: Driver;
}

export interface SimProvider extends DeviceProvider {
  /** The running simulators by serial (tests use them to inspect partitions, faults and violations). */
  readonly devices: ReadonlyMap<string, FastbootSimDevice>;
}

function attachedFor(spec: SimSpec, usb: SimUsbDevice, options: SimProviderOptions): AttachedDevice {
  return {
    device: {
      id: spec.serial,
      protocol: 'fastboot',
      transport: 'sim',
      name: `${spec.product} (simulated)`,
      serial: spec.serial,
      port: `sim:${spec.serial}`,
      info: {},
    },
    driver: options.driver ?? fastbootDriver,
    link: createWebUsbLink(usb, { label: `simulated device ${spec.serial}`, ...options.link, kind: 'sim' }),
  };
}

/** Parse every spec up front (a bad one throws FlashError `bad_request` before anything starts). */
export function createSimProvider(specs: string[], options: SimProviderOptions): SimProvider {
  const parsed = specs.map(parseSimSpec);
  const serials = new Set<string>();
  for (const s of parsed) {
    if (serials.has(s.serial)) throw new FlashError('bad_request', `Two simulated devices share the serial ${s.serial}`);
    serials.add(s.serial);
  }
  const devices = new Map<string, FastbootSimDevice>();
  const unsubscribe: Array<() => void> = [];

  return {
    name: 'sim',
    devices,
    async start(sink: DeviceSink): Promise<void> {
      for (const spec of parsed) {
        const dev = await FastbootSimDevice.create({ ...spec, storeDir: join(options.dataDir, 'sim', spec.serial) });
        devices.set(spec.serial, dev);
        const plug = (): void => sink.attach(attachedFor(spec, new SimUsbDevice(dev, options.usb), options));
        unsubscribe.push(
          dev.onEvent((e) => {
            if (e.type === 'offline') sink.detach(spec.serial);
            else plug();
          }),
        );
        plug();
      }
    },
    async stop(): Promise<void> {
      for (const off of unsubscribe.splice(0)) off();
      const all = [...devices.values()];
      devices.clear();
      await Promise.all(all.map((d) => d.close()));
    },
  };
}
