// `--sim esp:SERIAL?chip=esp32&flash=4M&baud=115200&usb=bridge|jtag`: an in-station simulated ESP board on an
// in-process serial line whose DTR/RTS reach the chip, as on a real board.
import { FlashError } from '../../contracts/errors.js';
import type { SerialCandidate } from '../../contracts/family.js';
import type { SerialLineSettings } from '../../contracts/links.js';
import type { SimFaults, SimInstance, SimOptions, SimulatorFactory } from '../../contracts/simulator.js';
import { chipPersonality } from './chips.js';
import { createEspSim, parseBaud, parseFlashSize, type EspSimConfig } from './sim.js';
import { SimSerialTransport } from './stream.js';

const KEYS = ['chip', 'flash', 'baud', 'usb'] as const;
/** How long the board stays away after a `disconnect-after` fault (a replug). */
const REPLUG_MS = 1000;

export function espSimConfig(serial: string, params: ReadonlyMap<string, string>, faults: SimFaults, storeDir: string): EspSimConfig & { usb: 'bridge' | 'jtag' } {
  const bad = (why: string): never => {
    throw new FlashError('bad_request', `Simulator spec "esp:${serial}": ${why}`);
  };
  for (const key of params.keys()) if (!(KEYS as readonly string[]).includes(key)) bad(`unknown key "${key}" (esp takes ${KEYS.join(', ')} and the fault keys)`);
  try {
    const usb = params.get('usb') ?? 'bridge';
    if (usb !== 'bridge' && usb !== 'jtag') bad(`usb "${usb}" must be bridge (a CP2102 board) or jtag (native USB-JTAG-serial)`);
    return {
      serial,
      chip: chipPersonality(params.get('chip') ?? 'esp32').chip,
      flashSize: parseFlashSize(params.get('flash') ?? '4M'),
      storeDir,
      baud: parseBaud(params.get('baud') ?? '115200'),
      wiring: usb === 'jtag' ? 'usb-jtag' : 'classic',
      faults,
      usb: usb as 'bridge' | 'jtag',
    };
  } catch (e) {
    if (e instanceof FlashError) throw e;
    return bad(e instanceof Error ? e.message : String(e));
  }
}

export const espSimulatorFactory: SimulatorFactory = {
  protocol: 'esp',
  keys: KEYS,
  loadCli: async () => (await import('./cli.js')).espSimCli,
  // A CP2102 ESP32 board (the station switches it to 921600).
  demo: ['esp:DEMOESP1?chip=esp32&flash=4M'],
  async create(serial, params, faults, options: SimOptions): Promise<SimInstance> {
    const config = espSimConfig(serial, params, faults, options.storeDir);
    const sim = await createEspSim(config);
    const listeners = new Set<(present: boolean) => void>();
    let open: SimSerialTransport | undefined;
    let present = true;
    sim.device.on({
      disconnect: () => {
        present = false;
        open?.lose('the simulated board was unplugged (disconnect-after)');
        for (const l of listeners) l(false);
        setTimeout(() => {
          if (sim.device.mode === 'gone' && !closed) {
            present = true;
            sim.device.boot(false);
            for (const l of listeners) l(true);
          }
        }, REPLUG_MS).unref();
      },
    });
    let closed = false;
    const path = `sim:${serial}`;
    const candidate: SerialCandidate = {
      kind: 'serial',
      key: path,
      transport: 'sim',
      path,
      port: path,
      serial,
      protocol: 'esp',
      // What a real board reports: a CP2102 bridge, or the chip's own USB-JTAG-serial.
      ...(config.usb === 'jtag' ? { vendorId: 0x303a, productId: 0x1001 } : { vendorId: 0x10c4, productId: 0xea60, manufacturer: 'Silicon Labs' }),
      openStream: async (settings: SerialLineSettings) => {
        if (!present || closed) throw new FlashError('device_not_found', `Simulated board ${serial} is unplugged`, { transient: true });
        if (open && !open.closed) throw new FlashError('port_busy', `Simulated serial port ${path} is in use by another program; close it and retry`);
        open = new SimSerialTransport(sim.device, path, settings);
        return open;
      },
    };
    return {
      candidate: () => candidate,
      onPresence: (listener) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      close: async () => {
        closed = true;
        await open?.close();
        await sim.close();
      },
    };
  },
};
