// A simulated STM32 in its system bootloader: memories, the AN3155 engine and the UART, for a tty or in-process link.
import type { SimFaults } from '../../contracts/simulator.js';
import { STM32_CHIPS, chipById, type Stm32Chip } from '../../drivers/stm32/chips.js';
import { parseSize } from '../units.js';
import { Stm32Bootloader } from './bootloader.js';
import { Stm32Memory } from './memory.js';
import { UartReceiver, UartTransmitter } from './uart.js';

export interface Stm32SimConfig {
  chip: Stm32Chip;
  flashSize: number;
  storeDir: string;
  baud: number;
  faults: SimFaults;
  goResetMs?: number;
}

/** `f103`, `f4`, a product id like `0x410`: the chip a simulator plays. */
export function parseChip(text: string): Stm32Chip {
  const aliases: Record<string, number> = { f103: 0x410, f1: 0x410, f4: 0x413, f407: 0x413, f411: 0x431, f0: 0x440, g4: 0x468 };
  const pid = aliases[text.toLowerCase()] ?? (/^(0x)?[0-9a-f]{3}$/i.test(text) ? parseInt(text.replace(/^0x/i, ''), 16) : undefined);
  const chip = pid === undefined ? undefined : chipById(pid);
  if (!chip) {
    throw new RangeError(`chip "${text}" is not known (use ${Object.keys(aliases).join(', ')} or a product id: ${STM32_CHIPS.map((c) => `0x${c.pid.toString(16)}`).join(', ')})`);
  }
  return chip;
}

/** A flash size for `chip`: at most its line's size and a whole number of its erase units. */
export function parseFlashSize(text: string, chip: Stm32Chip): number {
  const n = parseSize(text, 'flash size');
  const unit = chip.pageSize ?? 1024;
  if (n <= 0 || n > chip.flashSize || n % unit !== 0) {
    throw new RangeError(`flash size ${text} must be a multiple of ${unit} bytes up to ${chip.flashSize / 1024}K for ${chip.name}`);
  }
  return n;
}

export interface SimLine {
  /** Bytes from the host. */
  push(bytes: Uint8Array): void;
  close(): void;
  readonly bootloader: Stm32Bootloader;
  /** Resolves when the engine has stopped (closed or disconnected). */
  readonly done: Promise<void>;
}

export class Stm32SimDevice {
  private line: SimLine | undefined;
  private readonly presence = new Set<(present: boolean) => void>();
  /** One-shot faults that already fired on this board. */
  private readonly fired = new Set<'disconnect' | 'stall'>();

  private constructor(
    readonly config: Stm32SimConfig,
    readonly memory: Stm32Memory,
  ) {}

  static create(config: Stm32SimConfig): Stm32SimDevice {
    return new Stm32SimDevice(config, Stm32Memory.open(config.storeDir, config.chip, config.flashSize));
  }

  onPresence(listener: (present: boolean) => void): () => void {
    this.presence.add(listener);
    return () => this.presence.delete(listener);
  }

  /** Connect a host: `deliver` gets the device's bytes at the modelled line rate; `dropped` runs on a disconnect fault. */
  connect(deliver: (bytes: Uint8Array) => void | Promise<void>, dropped: () => void = () => undefined): SimLine {
    this.line?.close();
    const rx = new UartReceiver(this.config.baud);
    const tx = new UartTransmitter(this.config.baud, deliver);
    // An unplug or a hang happens once, as on a bench: the host that reconnects (a retry) finds a healthy board.
    const faults = { ...this.config.faults };
    if (this.fired.has('disconnect')) delete faults.disconnectAfter;
    if (this.fired.has('stall')) delete faults.stallAfter;
    const bootloader = new Stm32Bootloader(this.memory, faults, {
      ...(this.config.goResetMs !== undefined ? { goResetMs: this.config.goResetMs } : {}),
      onPresence: (p) => this.presence.forEach((l) => l(p)),
      onFault: (f) => this.fired.add(f),
    });
    const done = bootloader.run({
      rx,
      send: (b) => tx.send(b),
      disconnect: () => {
        rx.close();
        dropped();
      },
    });
    const line: SimLine = {
      push: (b) => rx.push(b),
      close: () => rx.close(),
      bootloader,
      done,
    };
    this.line = line;
    return line;
  }

  close(): void {
    this.line?.close();
    this.line = undefined;
    this.memory.close();
  }
}
