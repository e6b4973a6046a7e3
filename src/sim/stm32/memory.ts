// The simulated STM32's memories: flash in DIR/flash.bin (byte 0 = 0x08000000), RAM, and option state (RDP, WRP).
import { closeSync, existsSync, fstatSync, ftruncateSync, mkdirSync, openSync, readFileSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { FLASH_BASE, eraseUnits, type EraseUnit, type Stm32Chip } from '../../drivers/stm32/chips.js';

const RAM_BASE = 0x2000_0000;
/** F1-style option bytes: RDP key and complement, user, data, WRP0-3, each followed by its complement. */
const OPTION_BASE = 0x1fff_f800;
const OPTION_SIZE = 16;
const SYSTEM_BASE = 0x1fff_f000;
const SYSTEM_SIZE = 0x800;

interface OptionState {
  readoutProtected: boolean;
  writeProtected: number[];
}

export type Region = 'flash' | 'ram' | 'system' | 'option';

export class Stm32Memory {
  readonly flash: Uint8Array;
  readonly ram: Uint8Array;
  readonly units: readonly EraseUnit[];
  private options: OptionState;

  private constructor(
    readonly chip: Stm32Chip,
    readonly flashSize: number,
    private readonly fd: number,
    private readonly optionsPath: string,
  ) {
    this.flash = new Uint8Array(flashSize);
    this.ram = new Uint8Array(chip.ramEnd - RAM_BASE);
    this.units = eraseUnits(chip, flashSize);
    this.options = { readoutProtected: false, writeProtected: [] };
    if (existsSync(optionsPath)) {
      const saved = JSON.parse(readFileSync(optionsPath, 'utf8')) as Partial<OptionState>;
      this.options = { readoutProtected: saved.readoutProtected === true, writeProtected: (saved.writeProtected ?? []).filter(Number.isInteger) };
    }
  }

  /** Open (or create, erased) `DIR/flash.bin` of `flashSize` bytes. */
  static open(storeDir: string, chip: Stm32Chip, flashSize: number): Stm32Memory {
    mkdirSync(storeDir, { recursive: true });
    const path = join(storeDir, 'flash.bin');
    const fd = openSync(path, existsSync(path) ? 'r+' : 'w+');
    const m = new Stm32Memory(chip, flashSize, fd, join(storeDir, 'options.json'));
    const had = fstatSync(fd).size;
    m.flash.fill(0xff);
    if (had > 0) readSync(fd, m.flash, 0, Math.min(had, flashSize), 0);
    if (had !== flashSize) {
      ftruncateSync(fd, flashSize);
      if (had < flashSize) writeSync(fd, m.flash, had, flashSize - had, had);
    }
    return m;
  }

  close(): void {
    closeSync(this.fd);
  }

  get readoutProtected(): boolean {
    return this.options.readoutProtected;
  }

  get writeProtectedUnits(): readonly number[] {
    return this.options.writeProtected;
  }

  setReadoutProtection(on: boolean): void {
    this.options.readoutProtected = on;
    this.saveOptions();
  }

  setWriteProtection(units: number[]): void {
    this.options.writeProtected = [...new Set(units)].sort((a, b) => a - b);
    this.saveOptions();
  }

  private saveOptions(): void {
    writeFileSync(this.optionsPath, JSON.stringify(this.options));
  }

  /** Which memory [address, address + length) lies in, or undefined. */
  region(address: number, length: number): Region | undefined {
    const end = address + length;
    if (address >= FLASH_BASE && end <= FLASH_BASE + this.flashSize) return 'flash';
    if (address >= RAM_BASE && end <= this.chip.ramEnd) return 'ram';
    if (address >= SYSTEM_BASE && end <= SYSTEM_BASE + SYSTEM_SIZE) return 'system';
    if (address >= OPTION_BASE && end <= OPTION_BASE + OPTION_SIZE) return 'option';
    const reg = this.chip.flashSizeRegister;
    if (address >= reg && end <= reg + 2) return 'system';
    return undefined;
  }

  read(address: number, length: number): Uint8Array {
    switch (this.region(address, length)) {
      case 'flash':
        return this.flash.slice(address - FLASH_BASE, address - FLASH_BASE + length);
      case 'ram':
        return this.ram.slice(address - RAM_BASE, address - RAM_BASE + length);
      case 'option':
        return this.optionBytes().slice(address - OPTION_BASE, address - OPTION_BASE + length);
      default: {
        const out = new Uint8Array(length);
        // The flash size register: KiB, little-endian.
        const kib = this.flashSize / 1024;
        for (let i = 0; i < length; i++) {
          const at = address + i - this.chip.flashSizeRegister;
          if (at === 0) out[i] = kib & 0xff;
          if (at === 1) out[i] = kib >> 8;
        }
        return out;
      }
    }
  }

  private optionBytes(): Uint8Array {
    const rdp = this.options.readoutProtected ? 0x00 : 0xa5;
    const wrp = [0xff, 0xff, 0xff, 0xff];
    for (const u of this.options.writeProtected) {
      const bit = Math.min(31, Math.floor(u / 4));
      wrp[bit >> 3] = (wrp[bit >> 3] ?? 0xff) & ~(1 << (bit & 7));
    }
    const bytes = [rdp, 0xff, 0xff, 0xff, ...wrp];
    const out = new Uint8Array(OPTION_SIZE);
    bytes.forEach((b, i) => {
      out[i * 2] = b & 0xff;
      out[i * 2 + 1] = ~b & 0xff;
    });
    return out;
  }

  /**
   * Program flash or write RAM. Flash bits only go from 1 to 0: a byte that is neither erased nor equal to the new
   * value (a write without an erase) fails, as PGERR does on a real part. Returns a reason when refused.
   */
  write(address: number, data: Uint8Array): string | undefined {
    const region = this.region(address, data.length);
    if (region === 'ram') {
      this.ram.set(data, address - RAM_BASE);
      return undefined;
    }
    if (region !== 'flash') return `address 0x${address.toString(16)} (+${data.length}) is not writable`;
    const off = address - FLASH_BASE;
    for (const u of this.units) {
      if (u.offset < off + data.length && off < u.offset + u.size && this.options.writeProtected.includes(u.index)) {
        return `page ${u.index} is write-protected`;
      }
    }
    for (let i = 0; i < data.length; i++) {
      const old = this.flash[off + i] ?? 0xff;
      const v = data[i] ?? 0xff;
      if (v !== 0xff && old !== 0xff && old !== v) return `0x${(address + i).toString(16)} was not erased`;
    }
    for (let i = 0; i < data.length; i++) this.flash[off + i] = (this.flash[off + i] ?? 0xff) & (data[i] ?? 0xff);
    writeSync(this.fd, this.flash, off, data.length, off);
    return undefined;
  }

  /** Erase the units by index; returns a reason when one is out of range or write-protected. */
  erase(indexes: readonly number[]): string | undefined {
    for (const i of indexes) {
      if (!this.units[i]) return `page ${i} does not exist (the flash has ${this.units.length})`;
      if (this.options.writeProtected.includes(i)) return `page ${i} is write-protected`;
    }
    for (const i of indexes) {
      const u = this.units[i];
      if (!u) continue;
      this.flash.fill(0xff, u.offset, u.offset + u.size);
      writeSync(this.fd, this.flash, u.offset, u.size, u.offset);
    }
    return undefined;
  }

  massErase(): string | undefined {
    if (this.options.writeProtected.length) return 'pages are write-protected';
    this.flash.fill(0xff);
    writeSync(this.fd, this.flash, 0, this.flashSize, 0);
    return undefined;
  }

  /** Readout unprotect: the whole flash is erased and the write protection lifted, as on a real part. */
  unprotectReadout(): void {
    this.options.writeProtected = [];
    this.massErase();
    this.setReadoutProtection(false);
  }
}
