// A simulated Espressif chip behind its UART: ROM loader, the uploaded stub's dialect, resets by DTR/RTS, faults.
import type { SimFaults } from '../../contracts/simulator.js';
import { flashCapacityCode, type ChipPersonality } from './chips.js';
import { commandMatches, dataChecksum, OP, response, ROM_ERR, STUB_ERR, u32le } from './commands.js';
import { FlashCommands } from './flash-commands.js';
import type { FlashStore } from './flash-store.js';
import { SlipDecoder, slipEncode } from './slip.js';

export type EspMode = 'rom' | 'stub' | 'app' | 'reset' | 'gone';
/** How the modem lines reach the chip: a USB-UART board's two-transistor circuit, native USB-JTAG-serial, or none (a pty). */
export type ResetWiring = 'classic' | 'usb-jtag' | 'none';

export interface EspSimDeviceOptions {
  chip: ChipPersonality;
  flash: FlashStore;
  mac: Uint8Array;
  /** Baud the ROM starts at after a reset (default 115200). */
  baud?: number;
  wiring?: ResetWiring;
  faults?: SimFaults;
}

export interface EspSimEvents {
  /** Bytes for the host, at the baud in force when they were sent. */
  output(bytes: Uint8Array): void;
  baud(rate: number): void;
  /** The `disconnect-after` fault fired: the port vanishes. */
  disconnect(): void;
}

const SYNC_BODY = Uint8Array.from([0x07, 0x07, 0x12, 0x20, ...new Array<number>(32).fill(0x55)]);
const CHIP_MAGIC_REG = 0x40001000;
const SPI_CMD_USR = 1 << 18;

export class EspSimDevice {
  readonly chip: ChipPersonality;
  readonly flash: FlashStore;
  mode: EspMode;
  baud: number;
  /** Flash data bytes received in FLASH_DATA / FLASH_DEFL_DATA payloads (what the byte-count faults count). */
  dataBytes = 0;
  /** Commands handled, by name, for tests. */
  readonly seen = new Map<number, number>();
  private readonly initialBaud: number;
  private readonly wiring: ResetWiring;
  private readonly faults: SimFaults;
  private readonly fired = new Set<string>();
  private readonly decoder = new SlipDecoder();
  private readonly regs = new Map<number, number>();
  private readonly fixedRegs: Map<number, number>;
  private readonly writer: FlashCommands;
  private queue: Promise<void> = Promise.resolve();
  private stalled = false;
  private lines = { dtr: false, rts: false };
  private usbBootLatch = false;
  private mem: { segments: Array<[number, number]>; current?: { offset: number; size: number; blockSize: number } } = { segments: [] };
  private listeners: Partial<EspSimEvents> = {};

  constructor(options: EspSimDeviceOptions) {
    this.chip = options.chip;
    this.flash = options.flash;
    this.initialBaud = options.baud ?? 115200;
    this.baud = this.initialBaud;
    this.wiring = options.wiring ?? 'none';
    this.faults = options.faults ?? {};
    this.fixedRegs = this.chip.registers(options.mac);
    this.mode = 'rom';
    this.writer = new FlashCommands(this.flash, (b) => this.emit(b));
  }

  on(events: Partial<EspSimEvents>): void {
    this.listeners = { ...this.listeners, ...events };
  }

  private emit(frame: Uint8Array): void {
    this.listeners.output?.(slipEncode(frame));
  }

  private text(s: string): void {
    this.listeners.output?.(new TextEncoder().encode(s));
  }

  /** Bytes that reached the chip's UART (at their modelled arrival time). */
  receive(bytes: Uint8Array): void {
    if (this.mode === 'gone' || this.mode === 'reset') return;
    for (const frame of this.decoder.push(bytes)) {
      this.queue = this.queue.then(() => this.frame(frame)).catch(() => undefined);
    }
  }

  /** Resolves once every frame received so far has been handled. */
  idle(): Promise<void> {
    return this.queue;
  }

  /** DTR/RTS as the host set them; what they do depends on the board's wiring. */
  setLines(next: { dtr?: boolean; rts?: boolean }): void {
    const prev = this.lines;
    const cur = { dtr: next.dtr ?? prev.dtr, rts: next.rts ?? prev.rts };
    this.lines = cur;
    if (this.wiring === 'none' || this.mode === 'gone') return;
    if (this.wiring === 'classic') {
      // EN is pulled low only by RTS without DTR, IO0 only by DTR without RTS (the usual two-transistor circuit).
      const enWas = !(prev.rts && !prev.dtr);
      const en = !(cur.rts && !cur.dtr);
      const io0 = !(cur.dtr && !cur.rts);
      if (enWas && !en) this.hold();
      else if (!enWas && en) this.boot(!io0);
      return;
    }
    // USB-JTAG-serial: RTS holds the chip in reset; the boot mode is DTR's level when reset was asserted.
    if (!prev.rts && cur.rts) {
      this.usbBootLatch = cur.dtr;
      this.hold();
    } else if (prev.rts && !cur.rts) this.boot(this.usbBootLatch);
  }

  private hold(): void {
    this.mode = 'reset';
    this.forget();
  }

  private forget(): void {
    this.decoder.reset();
    this.writer.abort();
    this.mem = { segments: [] };
    this.regs.clear();
    this.stalled = false;
    this.setBaud(this.initialBaud);
  }

  /** Leave reset: into the ROM's download mode, or into the application in flash. */
  boot(download: boolean): void {
    this.forget();
    this.mode = download ? 'rom' : 'app';
    const rst = 'rst:0x1 (POWERON_RESET),';
    if (download) this.text(`\r\nets Jun  8 2016 00:22:57\r\n\r\n${rst}boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))\r\nwaiting for download\r\n`);
    else this.text(`\r\nets Jun  8 2016 00:22:57\r\n\r\n${rst}boot:0x13 (SPI_FAST_FLASH_BOOT)\r\nI (31) boot: ESP-IDF simulated 2nd stage bootloader\r\n`);
  }

  /** The device vanishes for good (close). */
  unplug(): void {
    this.mode = 'gone';
    this.writer.abort();
  }

  private setBaud(rate: number): void {
    if (rate === this.baud) return;
    this.baud = rate;
    this.listeners.baud?.(rate);
  }

  private get statusBytes(): number {
    return this.mode === 'stub' ? 2 : this.chip.romStatusBytes;
  }

  private reply(op: number, value = 0, data: Uint8Array = new Uint8Array(0), error = 0): void {
    this.emit(response(op, value, data, this.statusBytes, error));
  }

  private fail(op: number, romError: number, stubError: number): void {
    this.reply(op, 0, undefined, this.mode === 'stub' ? stubError : romError);
  }

  private once(key: string): boolean {
    if (this.fired.has(key)) return false;
    this.fired.add(key);
    return true;
  }

  private async frame(frame: Uint8Array): Promise<void> {
    if (this.mode === 'gone' || this.mode === 'reset' || this.stalled) return;
    if (this.writer.reading) return this.writer.ack(frame);
    if (frame.length < 8 || frame[0] !== 0) return;
    const op = frame[1] ?? 0;
    const data = frame.subarray(8);
    if (this.mode === 'app') {
      // A pty carries no DTR/RTS: a SYNC after the chip left the loader stands for the reset the host tried to do.
      if (this.wiring === 'none' && op === OP.SYNC) this.boot(true);
      else return;
    }
    if (this.mode === 'stub' && op === OP.SYNC && this.wiring === 'none') this.boot(true);
    this.seen.set(op, (this.seen.get(op) ?? 0) + 1);
    const declared = (frame[2] ?? 0) | ((frame[3] ?? 0) << 8);
    if (declared !== data.length) return this.fail(op, ROM_ERR.INVALID_MESSAGE, STUB_ERR.BAD_DATA_LEN);
    if (this.faults.failCommand && commandMatches(this.faults.failCommand, op) && op !== OP.SYNC) {
      return this.fail(op, ROM_ERR.FAILED, STUB_ERR.FAILED_SPI_OP);
    }
    if (this.faults.failCommand && op === OP.SYNC && commandMatches(this.faults.failCommand, op)) return;
    if (op === OP.FLASH_DATA || op === OP.FLASH_DEFL_DATA || op === OP.MEM_DATA) {
      if (u32le(frame, 4) !== dataChecksum(data.subarray(16))) return this.fail(op, ROM_ERR.BAD_CRC, STUB_ERR.BAD_DATA_CHECKSUM);
    }
    if ((op === OP.FLASH_DATA || op === OP.FLASH_DEFL_DATA) && this.dataFault(op, Math.max(0, data.length - 16))) return;
    await this.dispatch(op, data);
  }

  /** Byte-count faults, each once: true when the command must not be handled. */
  private dataFault(op: number, n: number): boolean {
    const before = this.dataBytes;
    this.dataBytes += n;
    const { failAfter, disconnectAfter, stallAfter } = this.faults;
    if (disconnectAfter !== undefined && this.dataBytes > disconnectAfter && this.once('disconnect')) {
      this.dataBytes = before;
      this.mode = 'gone';
      this.writer.abort();
      this.listeners.disconnect?.();
      return true;
    }
    if (stallAfter !== undefined && this.dataBytes > stallAfter && this.once('stall')) {
      this.dataBytes = before;
      this.stalled = true;
      return true;
    }
    if (failAfter !== undefined && this.dataBytes > failAfter && this.once('fail')) {
      this.dataBytes = before;
      this.fail(op, ROM_ERR.FLASH_WRITE, STUB_ERR.FAILED_SPI_OP);
      return true;
    }
    return false;
  }

  private knows(op: number): boolean {
    if (this.mode === 'stub') return Object.values(OP).includes(op as never);
    if (op >= OP.ERASE_FLASH) return false;
    if (op === OP.GET_SECURITY_INFO) return this.chip.securityChipId !== undefined;
    if (op === OP.SPI_FLASH_MD5 || op === OP.CHANGE_BAUDRATE || (op >= OP.FLASH_DEFL_BEGIN && op <= OP.FLASH_DEFL_END)) {
      return this.chip.romExtended;
    }
    return Object.values(OP).includes(op as never);
  }

  private unsupported(op: number): void {
    if (this.mode === 'stub') return this.reply(op, 0, undefined, STUB_ERR.CMD_NOT_IMPLEMENTED);
    // The ROM answers a command it does not know with an "invalid message" frame under another op, several times.
    const frame = response(0, 0, new Uint8Array(0), this.statusBytes, ROM_ERR.INVALID_MESSAGE);
    for (let i = 0; i < 8; i++) this.emit(frame);
  }

  private async dispatch(op: number, data: Uint8Array): Promise<void> {
    if (!this.knows(op)) return this.unsupported(op);
    const stub = this.mode === 'stub';
    switch (op) {
      case OP.SYNC: {
        if (data.length !== SYNC_BODY.length || !data.every((b, i) => b === SYNC_BODY[i])) return;
        if (stub) return this.reply(op, 0);
        for (let i = 0; i < 8; i++) this.reply(op, 0x20120707);
        return;
      }
      case OP.READ_REG:
        return this.reply(op, this.readReg(u32le(data, 0)));
      case OP.WRITE_REG:
        for (let at = 0; at + 16 <= data.length; at += 16) this.writeReg(u32le(data, at), u32le(data, at + 4), u32le(data, at + 8));
        return this.reply(op);
      case OP.MEM_BEGIN:
        this.mem.current = { offset: u32le(data, 12), size: u32le(data, 0), blockSize: u32le(data, 8) };
        return this.reply(op);
      case OP.MEM_DATA: {
        const cur = this.mem.current;
        const size = u32le(data, 0);
        const seq = u32le(data, 4);
        if (!cur || size !== data.length - 16 || size > cur.blockSize) return this.fail(op, ROM_ERR.FAILED, STUB_ERR.BAD_DATA_LEN);
        const start = cur.offset + seq * cur.blockSize;
        this.mem.segments.push([start, start + size]);
        return this.reply(op);
      }
      case OP.MEM_END: {
        const execute = u32le(data, 0) === 0;
        const entry = u32le(data, 4);
        this.reply(op);
        if (!execute) return;
        if (this.mem.segments.some(([s, e]) => entry >= s && entry < e)) {
          this.mode = 'stub';
          this.emit(new TextEncoder().encode('OHAI'));
        } else {
          this.mode = 'app';
          this.text(`Guru Meditation Error: Core  0 panic'ed (IllegalInstruction). Exception was unhandled.\r\n`);
        }
        return;
      }
      case OP.SPI_SET_PARAMS:
      case OP.SPI_ATTACH:
        return this.reply(op);
      case OP.CHANGE_BAUDRATE: {
        const rate = u32le(data, 0);
        if (rate < 300 || rate > 5_000_000) return this.fail(op, ROM_ERR.FAILED, STUB_ERR.BAD_DATA_LEN);
        this.reply(op);
        this.setBaud(rate);
        return;
      }
      case OP.GET_SECURITY_INFO: {
        const body = new Uint8Array(20);
        new DataView(body.buffer).setUint32(12, this.chip.securityChipId ?? 0, true);
        return this.reply(op, 0, body);
      }
      case OP.RUN_USER_CODE:
        this.boot(false);
        return;
      default: {
        const r = await this.writer.handle(op, data, stub);
        if (r.error !== undefined) return this.fail(op, r.error.rom, r.error.stub);
        this.reply(op, 0, r.data ?? undefined);
        if (r.runUserCode) this.boot(false);
        r.after?.();
      }
    }
  }

  private readReg(addr: number): number {
    if (addr === CHIP_MAGIC_REG) return this.chip.magic;
    if (addr === this.chip.uartClkdivReg) return Math.round((this.chip.xtalMHz * 1e6 * this.chip.xtalDivider) / this.baud) & 0xfffff;
    return this.regs.get(addr) ?? this.fixedRegs.get(addr) ?? 0;
  }

  private writeReg(addr: number, value: number, mask: number): void {
    const old = this.readReg(addr);
    const next = ((old & ~mask) | (value & mask)) >>> 0;
    const spi = this.chip.spi;
    if (addr === spi.base && next & SPI_CMD_USR) {
      this.spiCommand();
      this.regs.set(addr, (next & ~SPI_CMD_USR) >>> 0);
      return;
    }
    this.regs.set(addr, next);
  }

  /** The SPI peripheral's user command, as esptool's runSpiflashCommand drives it: RDID and RDSR. */
  private spiCommand(): void {
    const spi = this.chip.spi;
    const cmd = this.readReg(spi.base + spi.usr2) & 0xff;
    let w0 = 0;
    if (cmd === 0x9f) w0 = 0xef | (0x40 << 8) | (flashCapacityCode(this.flash.size) << 16);
    this.regs.set(spi.base + spi.w0, w0 >>> 0);
  }
}
