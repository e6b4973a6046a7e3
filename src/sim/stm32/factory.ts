// `--sim stm32:SERIAL?flash=128K&chip=f103&baud=115200`: an in-station simulated STM32 on an in-process serial line.
import { FlashError } from '../../contracts/errors.js';
import type { SerialCandidate } from '../../contracts/family.js';
import type { SerialLineSettings } from '../../contracts/links.js';
import type { SimFaults, SimInstance, SimOptions, SimulatorFactory } from '../../contracts/simulator.js';
import { parseDuration } from '../units.js';
import { parseChip, parseFlashSize, Stm32SimDevice, type Stm32SimConfig } from './device.js';
import { SimSerialTransport } from './stream.js';

const KEYS = ['flash', 'chip', 'baud', 'go-reset'] as const;

/** The config a spec describes; throws FlashError `bad_request` naming the key. */
export function stm32SimConfig(serial: string, params: ReadonlyMap<string, string>, faults: SimFaults, storeDir: string): Stm32SimConfig {
  const bad = (why: string): never => {
    throw new FlashError('bad_request', `Simulator spec "stm32:${serial}": ${why}`);
  };
  for (const key of params.keys()) if (!(KEYS as readonly string[]).includes(key)) bad(`unknown key "${key}" (stm32 takes ${KEYS.join(', ')} and the fault keys)`);
  try {
    const chip = parseChip(params.get('chip') ?? 'f103');
    const flash = params.get('flash');
    const baudText = params.get('baud');
    const baud = baudText === undefined ? 115200 : Number(baudText);
    if (!Number.isInteger(baud) || baud < 1200 || baud > 4_000_000) bad(`baud "${baudText}" must be a whole number from 1200 to 4000000`);
    const goReset = params.get('go-reset');
    return {
      chip,
      flashSize: flash === undefined ? chip.flashSize : parseFlashSize(flash, chip),
      storeDir,
      baud,
      faults,
      ...(goReset !== undefined ? { goResetMs: parseDuration(goReset, 'go-reset') } : {}),
    };
  } catch (e) {
    if (e instanceof FlashError) throw e;
    return bad(e instanceof Error ? e.message : String(e));
  }
}

export const stm32SimulatorFactory: SimulatorFactory = {
  protocol: 'stm32',
  keys: KEYS,
  loadCli: async () => (await import('./tty.js')).stm32SimCli,
  // An STM32F103 at 115200.
  demo: ['stm32:DEMOSTM1?chip=f103&flash=128K'],
  async create(serial: string, params: ReadonlyMap<string, string>, faults: SimFaults, options: SimOptions): Promise<SimInstance> {
    const device = Stm32SimDevice.create(stm32SimConfig(serial, params, faults, options.storeDir));
    const label = `simulated STM32 ${serial}`;
    const candidate: SerialCandidate = {
      kind: 'serial',
      key: `sim:${serial}`,
      transport: 'sim',
      path: `sim:${serial}`,
      port: `sim:${serial}`,
      serial,
      protocol: 'stm32',
      baudRate: device.config.baud,
      openStream: async (settings: SerialLineSettings) => new SimSerialTransport(device, settings, label),
    };
    return {
      candidate: () => candidate,
      onPresence: (listener) => device.onPresence(listener),
      close: async () => device.close(),
    };
  },
};
