// `--sim fastboot:SERIAL?…` inside the station: a FastbootSimDevice offered as a WebUSB-shaped USB candidate (transport
// `sim`), absent while it reboots and present again, under the same serial, when it is back.
import { FlashError } from '../../contracts/errors.js';
import type { UsbCandidate } from '../../contracts/family.js';
import type { SimFaults, SimInstance, SimOptions, SimulatorFactory } from '../../contracts/simulator.js';
import { defaultSpec, type FastbootSimSpec } from './config.js';
import { FastbootSimDevice } from './device.js';
import { applySimOption } from './spec.js';
import { SimUsbDevice, type SimUsbOptions } from './usb-face.js';

const KEYS = [
  'max-download', 'max-download-size', 'speed', 'flash-speed', 'latency', 'partitions', 'slots', 'logical', 'product',
  'reboot-delay', 'locked', 'mode', 'udp-packet', 'version-bootloader', 'version-baseband', 'stall-command', 'repeat-faults',
] as const;

/** The spec a `--sim` line describes; throws FlashError `bad_request` naming the key. */
export function fastbootSimSpec(serial: string, params: ReadonlyMap<string, string>, faults: SimFaults): FastbootSimSpec {
  const spec = defaultSpec(serial);
  Object.assign(spec.faults, faults);
  // Partition lists first, so `logical=` may name them whatever the order.
  const entries = [...params].sort((a, b) => Number(b[0] === 'partitions') - Number(a[0] === 'partitions'));
  for (const [key, value] of entries) {
    try {
      applySimOption(spec, key, value);
    } catch (e) {
      throw new FlashError('bad_request', `Simulator spec "fastboot:${serial}": ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return spec;
}

export function createFastbootSimulatorFactory(usb: SimUsbOptions = {}): SimulatorFactory {
  return {
    protocol: 'fastboot',
    keys: KEYS,
    loadCli: async () => (await import('./cli.js')).fastbootSimCli,
    // Phones at USB 2.0 high speed with a few partitions each; one A/B.
    demo: [
      'fastboot:DEMO0001?speed=40M&partitions=boot:64M,system:1G,vendor:256M,userdata:2G',
      'fastboot:DEMO0002?speed=40M&partitions=boot:64M,system:1G,vendor:256M,userdata:2G',
      'fastboot:DEMO0003?speed=40M&slots=1&partitions=boot:64M,system:1G,vendor:256M',
    ],
    async create(serial, params, faults, options: SimOptions): Promise<SimInstance & { device: FastbootSimDevice }> {
      const device = await FastbootSimDevice.create({ ...fastbootSimSpec(serial, params, faults), storeDir: options.storeDir });
      const candidate = (): UsbCandidate => {
        const face = new SimUsbDevice(device, usb);
        return {
          kind: 'usb', key: `sim:${serial}`, transport: 'sim', port: `sim:${serial}`, serial, protocol: 'fastboot',
          vendorId: face.vendorId, productId: face.productId, device: face,
        };
      };
      return {
        device,
        candidate,
        onPresence: (listener) => device.onEvent((e) => listener(e.type !== 'offline')),
        close: () => device.close(),
      };
    },
  };
}

export const fastbootSimulatorFactory: SimulatorFactory = createFastbootSimulatorFactory();
