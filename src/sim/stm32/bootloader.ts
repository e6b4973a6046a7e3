// The AN3155 USART bootloader as a host sees it: autobaud, then commands (byte + complement) answered ACK/NACK.
import type { SimFaults } from '../../contracts/simulator.js';
import type { Stm32Memory } from './memory.js';
import type { UartReceiver } from './uart.js';

export const ACK = 0x79;
export const NACK = 0x1f;

/** Command bytes and the names the `fail-command` fault key uses. */
export const COMMANDS: ReadonlyMap<number, string> = new Map([
  [0x00, 'get'],
  [0x01, 'get_version'],
  [0x02, 'get_id'],
  [0x11, 'read'],
  [0x21, 'go'],
  [0x31, 'write'],
  [0x43, 'erase'],
  [0x44, 'erase'],
  [0x63, 'write_protect'],
  [0x73, 'write_unprotect'],
  [0x82, 'readout_protect'],
  [0x92, 'readout_unprotect'],
]);

export interface BootloaderIo {
  rx: UartReceiver;
  send(bytes: Uint8Array): void;
  /** Drop off the line (the `disconnect-after` fault). */
  disconnect(): void;
}

export interface BootloaderOptions {
  /** After Go the application runs; the board comes back in the bootloader after this long (default 500 ms). */
  goResetMs?: number;
  /** Called when the device leaves the bootloader (Go, a protection reset) and comes back. */
  onPresence?: (present: boolean) => void;
  /** Called when a one-shot fault fires (`disconnect-after`, `stall-after`), so the device can keep it fired. */
  onFault?: (fault: 'disconnect' | 'stall') => void;
}

/** Thrown inside the command loop: the chip resets and waits for 0x7F again. */
class Reset extends Error {}

function xor(bytes: Uint8Array, seed = 0): number {
  let x = seed;
  for (const b of bytes) x ^= b;
  return x;
}

export class Stm32Bootloader {
  /** Write Memory data bytes received (the byte count the fault keys use). */
  dataBytes = 0;
  /** Commands executed, newest last (tests read it). */
  readonly log: string[] = [];
  private stalled = false;
  private readonly goResetMs: number;

  constructor(
    private readonly memory: Stm32Memory,
    private readonly faults: SimFaults,
    private readonly options: BootloaderOptions = {},
  ) {
    this.goResetMs = options.goResetMs ?? 500;
  }

  private get commandList(): number[] {
    const erase = this.memory.chip.extendedErase ? 0x44 : 0x43;
    return [0x00, 0x01, 0x02, 0x11, 0x21, 0x31, erase, 0x63, 0x73, 0x82, 0x92];
  }

  /** Serve until the receiver closes. */
  async run(io: BootloaderIo): Promise<void> {
    try {
      for (;;) {
        await this.autobaud(io);
        try {
          for (;;) await this.command(io);
        } catch (e) {
          if (!(e instanceof Reset)) throw e;
          io.rx.clear();
        }
      }
    } catch (e) {
      if (io.rx.isClosed) return;
      throw e;
    }
  }

  private async autobaud(io: BootloaderIo): Promise<void> {
    for (;;) {
      const [b] = await io.rx.take(1);
      if (this.stalled) continue;
      if (b === 0x7f) {
        io.send(Uint8Array.of(ACK));
        return;
      }
    }
  }

  private async reset(io: BootloaderIo, afterMs: number): Promise<never> {
    this.options.onPresence?.(false);
    if (afterMs > 0) await new Promise((r) => setTimeout(r, afterMs));
    io.rx.clear();
    this.options.onPresence?.(true);
    throw new Reset();
  }

  private async command(io: BootloaderIo): Promise<void> {
    const [cmd = 0, check = 0] = await io.rx.take(2);
    if (this.stalled) return;
    const name = COMMANDS.get(cmd);
    if ((cmd ^ check) !== 0xff || name === undefined || !this.commandList.includes(cmd)) {
      io.send(Uint8Array.of(NACK));
      return;
    }
    if (this.faults.failCommand === name) {
      this.log.push(`${name} refused (fault)`);
      io.send(Uint8Array.of(NACK));
      return;
    }
    const rdp = this.memory.readoutProtected;
    const guarded = name === 'read' || name === 'write' || name === 'erase' || name === 'go' || name === 'write_protect' || name === 'write_unprotect';
    if (rdp && guarded) {
      this.log.push(`${name} refused (readout protection)`);
      io.send(Uint8Array.of(NACK));
      return;
    }
    io.send(Uint8Array.of(ACK));
    this.log.push(name);
    switch (cmd) {
      case 0x00: {
        const list = this.commandList;
        io.send(Uint8Array.of(list.length, this.memory.chip.bootloaderVersion, ...list, ACK));
        return;
      }
      case 0x01:
        io.send(Uint8Array.of(this.memory.chip.bootloaderVersion, 0x00, 0x00, ACK));
        return;
      case 0x02:
        io.send(Uint8Array.of(1, this.memory.chip.pid >> 8, this.memory.chip.pid & 0xff, ACK));
        return;
      case 0x11:
        return this.readMemory(io);
      case 0x31:
        return this.writeMemory(io);
      case 0x43:
        return this.erase(io);
      case 0x44:
        return this.extendedErase(io);
      case 0x21:
        return this.go(io);
      case 0x63:
        return this.writeProtect(io);
      case 0x73:
        this.memory.setWriteProtection([]);
        io.send(Uint8Array.of(ACK));
        return this.reset(io, 20);
      case 0x82:
        this.memory.setReadoutProtection(true);
        io.send(Uint8Array.of(ACK));
        return this.reset(io, 20);
      case 0x92:
        this.memory.unprotectReadout();
        io.send(Uint8Array.of(ACK));
        return this.reset(io, 50);
      default:
        return;
    }
  }

  /** 4 address bytes MSB first + XOR; undefined (after a NACK) when the checksum is wrong. */
  private async address(io: BootloaderIo): Promise<number | undefined> {
    const a = await io.rx.take(5);
    if (xor(a.subarray(0, 4)) !== a[4]) {
      io.send(Uint8Array.of(NACK));
      return undefined;
    }
    return (((a[0] ?? 0) << 24) | ((a[1] ?? 0) << 16) | ((a[2] ?? 0) << 8) | (a[3] ?? 0)) >>> 0;
  }

  private async readMemory(io: BootloaderIo): Promise<void> {
    const address = await this.address(io);
    if (address === undefined) return;
    if (!this.memory.region(address, 1)) {
      io.send(Uint8Array.of(NACK));
      return;
    }
    io.send(Uint8Array.of(ACK));
    const [n = 0, check = 0] = await io.rx.take(2);
    const length = n + 1;
    if ((n ^ check) !== 0xff || !this.memory.region(address, length)) {
      io.send(Uint8Array.of(NACK));
      return;
    }
    io.send(Uint8Array.of(ACK));
    io.send(this.memory.read(address, length));
  }

  private async writeMemory(io: BootloaderIo): Promise<void> {
    const address = await this.address(io);
    if (address === undefined) return;
    if (!this.memory.region(address, 1) || this.memory.region(address, 1) === 'system') {
      io.send(Uint8Array.of(NACK));
      return;
    }
    io.send(Uint8Array.of(ACK));
    const [n = 0] = await io.rx.take(1);
    const data = await io.rx.take(n + 1);
    const [sum] = await io.rx.take(1);
    const before = this.dataBytes;
    this.dataBytes += data.length;
    const f = this.faults;
    if (f.disconnectAfter !== undefined && this.dataBytes > f.disconnectAfter && before <= f.disconnectAfter) {
      this.log.push('disconnect (fault)');
      this.options.onFault?.('disconnect');
      io.disconnect();
      return;
    }
    if (f.stallAfter !== undefined && this.dataBytes > f.stallAfter) {
      if (!this.stalled) this.options.onFault?.('stall');
      this.log.push('stall (fault)');
      this.stalled = true;
      return;
    }
    if (f.failAfter !== undefined && this.dataBytes > f.failAfter) {
      this.log.push('write refused (fail-after)');
      io.send(Uint8Array.of(NACK));
      return;
    }
    if (xor(data, n) !== sum || address % 4 !== 0) {
      io.send(Uint8Array.of(NACK));
      return;
    }
    const refused = this.memory.write(address, data);
    if (refused) this.log.push(`write refused: ${refused}`);
    io.send(Uint8Array.of(refused ? NACK : ACK));
  }

  private async erase(io: BootloaderIo): Promise<void> {
    const [n = 0] = await io.rx.take(1);
    if (n === 0xff) {
      const [check] = await io.rx.take(1);
      const refused = check === 0x00 ? this.memory.massErase() : 'bad checksum';
      io.send(Uint8Array.of(refused ? NACK : ACK));
      return;
    }
    const pages = await io.rx.take(n + 1);
    const [sum] = await io.rx.take(1);
    if (xor(pages, n) !== sum) {
      io.send(Uint8Array.of(NACK));
      return;
    }
    io.send(Uint8Array.of(this.memory.erase([...pages]) ? NACK : ACK));
  }

  private async extendedErase(io: BootloaderIo): Promise<void> {
    const head = await io.rx.take(2);
    const n = ((head[0] ?? 0) << 8) | (head[1] ?? 0);
    if (n >= 0xfff0) {
      const [sum] = await io.rx.take(1);
      if (xor(head) !== sum || n < 0xfffd) {
        io.send(Uint8Array.of(NACK));
        return;
      }
      // 0xFFFF global; 0xFFFE/0xFFFD bank 1/2 (one bank here: the whole flash).
      io.send(Uint8Array.of(this.memory.massErase() ? NACK : ACK));
      return;
    }
    const body = await io.rx.take((n + 1) * 2);
    const [sum] = await io.rx.take(1);
    if (xor(body, xor(head)) !== sum) {
      io.send(Uint8Array.of(NACK));
      return;
    }
    const pages: number[] = [];
    for (let i = 0; i < body.length; i += 2) pages.push(((body[i] ?? 0) << 8) | (body[i + 1] ?? 0));
    io.send(Uint8Array.of(this.memory.erase(pages) ? NACK : ACK));
  }

  private async go(io: BootloaderIo): Promise<void> {
    const address = await this.address(io);
    if (address === undefined) return;
    const region = this.memory.region(address, 4);
    if (region !== 'flash' && region !== 'ram') {
      io.send(Uint8Array.of(NACK));
      return;
    }
    io.send(Uint8Array.of(ACK));
    // The application runs: the bootloader is gone until the board is reset into it again.
    return this.reset(io, this.goResetMs);
  }

  private async writeProtect(io: BootloaderIo): Promise<void> {
    const [n = 0] = await io.rx.take(1);
    const units = await io.rx.take(n + 1);
    const [sum] = await io.rx.take(1);
    if (xor(units, n) !== sum || [...units].some((u) => u >= this.memory.units.length)) {
      io.send(Uint8Array.of(NACK));
      return;
    }
    this.memory.setWriteProtection([...this.memory.writeProtectedUnits, ...units]);
    io.send(Uint8Array.of(ACK));
    return this.reset(io, 20);
  }
}
