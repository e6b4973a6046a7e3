// One simulated ESP board: chip personality, flash store and loader state, built from the spec's options.
import type { SimFaults } from '../../contracts/simulator.js';
import { parseSize } from '../units.js';
import { chipPersonality, macFromSerial, type EspSimChip } from './chips.js';
import { EspSimDevice, type ResetWiring } from './device.js';
import { FlashStore } from './flash-store.js';

export interface EspSimConfig {
  serial: string;
  chip: EspSimChip;
  flashSize: number;
  storeDir: string;
  baud: number;
  wiring: ResetWiring;
  faults: SimFaults;
}

export const ESP_FLASH_SIZES = [0x80000, 0x100000, 0x200000, 0x400000, 0x800000, 0x1000000];

export function parseFlashSize(text: string): number {
  const n = parseSize(text, 'flash size');
  if (!ESP_FLASH_SIZES.includes(n)) throw new RangeError(`flash size ${text} is not one an ESP flash chip has (512K, 1M, 2M, 4M, 8M or 16M)`);
  return n;
}

export function parseBaud(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1200 || n > 5_000_000) throw new RangeError(`baud "${text}" must be an integer between 1200 and 5000000`);
  return n;
}

export interface EspSim {
  readonly config: EspSimConfig;
  readonly device: EspSimDevice;
  readonly flash: FlashStore;
  close(): Promise<void>;
}

export async function createEspSim(config: EspSimConfig): Promise<EspSim> {
  const chip = chipPersonality(config.chip);
  const flash = await FlashStore.open(config.storeDir, config.flashSize);
  const mac = macFromSerial(config.serial);
  if (chip.chip === 'esp8266') mac.set([0x18, 0xfe, 0x34]);
  const device = new EspSimDevice({ chip, flash, mac, baud: config.baud, wiring: config.wiring, faults: config.faults });
  // A board with wired reset lines runs its application until a host resets it into the loader; on a pty (no lines)
  // it waits in download mode, as a board plugged in with BOOT held.
  if (config.wiring !== 'none') device.mode = 'app';
  return {
    config,
    device,
    flash,
    async close() {
      device.unplug();
      await device.idle();
      await flash.close();
    },
  };
}
