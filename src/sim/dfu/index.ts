// `--sim dfu:SERIAL?dfuse=1&flash=512K…` inside the station: the SimulatorFactory that offers a simulated DFU device as a
// USB candidate (transport `sim`), a fresh WebUSB face after every re-enumeration.
import { FlashError } from '../../contracts/errors.js';
import type { UsbCandidate } from '../../contracts/family.js';
import type { SimFaults, SimInstance, SimOptions, SimulatorFactory } from '../../contracts/simulator.js';
import { DFUSE_PARAMS, dfuSimConfig } from './config.js';
import { DfuSimDevice } from './device.js';
import { ControlPacer } from './link-model.js';
import { DfuUsbFace } from './usb-face.js';

export { DfuSimDevice } from './device.js';
export { DfuUsbFace } from './usb-face.js';
export { dfuSimConfig, layoutString } from './config.js';

export interface DfuSimInstance extends SimInstance {
  readonly device: DfuSimDevice;
  /** The WebUSB face of the present enumeration (a new object after each re-enumeration). */
  face(): DfuUsbFace;
}

/** One simulated DFU device with its faces; also what tests and the bench build directly. */
export function createDfuSim(device: DfuSimDevice): DfuSimInstance {
  const pacer = new ControlPacer(device.config.speed);
  let face: DfuUsbFace | undefined;
  const current = (): DfuUsbFace => {
    if (!face || face.gone) face = new DfuUsbFace(device, pacer);
    return face;
  };
  const serial = device.config.serial;
  return {
    device,
    face: current,
    candidate(): UsbCandidate {
      const f = current();
      return {
        kind: 'usb',
        key: `sim:${serial}`,
        transport: 'sim',
        port: `sim:${serial}`,
        serial,
        protocol: 'dfu',
        vendorId: f.vendorId,
        productId: f.productId,
        device: f,
      };
    },
    onPresence: (listener) => device.onPresence(listener),
    async close(): Promise<void> {
      device.close();
    },
  };
}

export const dfuSimulatorFactory: SimulatorFactory = {
  protocol: 'dfu',
  keys: DFUSE_PARAMS,
  // A DfuSe bootloader (STM32F4-like, 512K) on a full-speed USB link.
  demo: ['dfu:DEMODFU1?dfuse=1&flash=512K'],
  async create(serial: string, params: ReadonlyMap<string, string>, faults: SimFaults, options: SimOptions): Promise<SimInstance> {
    let config;
    try {
      config = dfuSimConfig(serial, params, options.demo ?? false);
    } catch (e) {
      throw new FlashError('bad_request', `Simulator spec dfu:${serial}: ${e instanceof Error ? e.message : String(e)}`);
    }
    return createDfuSim(new DfuSimDevice(config, options.storeDir, faults));
  },
};
