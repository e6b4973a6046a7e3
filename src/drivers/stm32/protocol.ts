// Our AN3155 host: init (0x7F), Get/Get Version/Get ID, Read/Write Memory, (Extended) Erase, Go, protection commands.
import { FlashError } from '../../contracts/errors.js';
import type { Transport } from '../../contracts/links.js';
import { readExact } from '../../transports/serial.js';

export const ACK = 0x79;
export const NACK = 0x1f;
export const CMD = {
  get: 0x00,
  getVersion: 0x01,
  getId: 0x02,
  read: 0x11,
  go: 0x21,
  write: 0x31,
  erase: 0x43,
  extendedErase: 0x44,
  writeProtect: 0x63,
  writeUnprotect: 0x73,
  readoutProtect: 0x82,
  readoutUnprotect: 0x92,
} as const;

export interface BootloaderInfo {
  /** Bootloader version byte (0x22 = 2.2). */
  version: number;
  commands: number[];
  pid: number;
  extendedErase: boolean;
}

export interface HostOptions {
  /** Deadline for an ACK or a reply, in ms (default 1000). */
  timeoutMs?: number;
  /** Deadline for a mass erase or readout unprotect (default 40 s: a large part erases for tens of seconds). */
  eraseTimeoutMs?: number;
  /**
   * Send a command's byte pairs, address and data in one write instead of waiting for each ACK in between (the
   * bootloader reads them as they come; the ACKs are checked in order). Default true.
   */
  pipeline?: boolean;
}

function xor(bytes: ArrayLike<number>, seed = 0): number {
  let x = seed;
  for (let i = 0; i < bytes.length; i++) x ^= bytes[i] ?? 0;
  return x;
}

function hex(n: number, width = 8): string {
  return `0x${n.toString(16).padStart(width, '0')}`;
}

function addressBytes(address: number): Uint8Array {
  const a = Uint8Array.of(address >>> 24, (address >>> 16) & 0xff, (address >>> 8) & 0xff, address & 0xff, 0);
  a[4] = xor(a.subarray(0, 4));
  return a;
}

/** A NACK on a named step: the detail the job keeps. */
export class NackError extends FlashError {
  constructor(what: string, readonly at: string) {
    super('device_rejected', `The STM32 bootloader refused ${what} (NACK${at ? ` at ${at}` : ''})`, { detail: `nack ${what}${at ? ` ${at}` : ''}` });
  }
}

export class Stm32Host {
  private readonly timeoutMs: number;
  private readonly eraseTimeoutMs: number;
  private readonly pipeline: boolean;

  constructor(
    readonly transport: Transport,
    options: HostOptions = {},
    readonly signal?: AbortSignal,
  ) {
    this.timeoutMs = options.timeoutMs ?? 1000;
    this.eraseTimeoutMs = options.eraseTimeoutMs ?? 40_000;
    this.pipeline = options.pipeline ?? true;
  }

  private async byte(timeoutMs = this.timeoutMs): Promise<number> {
    const [b] = await this.transport.read(1, { timeoutMs, ...(this.signal ? { signal: this.signal } : {}) });
    return b ?? 0;
  }

  private async bytes(n: number, timeoutMs = this.timeoutMs): Promise<Uint8Array> {
    return readExact(this.transport, n, { timeoutMs, ...(this.signal ? { signal: this.signal } : {}) });
  }

  private send(data: Uint8Array): Promise<void> {
    return this.transport.write(data, this.signal);
  }

  /** One ACK; a NACK throws NackError, anything else protocol_error. */
  private async ack(what: string, at = '', timeoutMs = this.timeoutMs): Promise<void> {
    let b: number;
    try {
      b = await this.byte(timeoutMs);
    } catch (e) {
      if (e instanceof FlashError && e.code === 'timeout') {
        throw new FlashError('timeout', `The STM32 bootloader did not answer ${what}${at ? ` at ${at}` : ''} within ${timeoutMs / 1000} s`, { transient: true, detail: `no ack ${what}` });
      }
      throw e;
    }
    if (b === ACK) return;
    if (b === NACK) throw new NackError(what, at);
    throw new FlashError('protocol_error', `The STM32 bootloader answered 0x${b.toString(16).padStart(2, '0')} instead of ACK to ${what}`, { detail: `byte 0x${b.toString(16)} for ${what}` });
  }

  private cmd(c: number): Uint8Array {
    return Uint8Array.of(c, c ^ 0xff);
  }

  /**
   * Autobaud: 0x7F → ACK. A NACK means the bootloader was already synchronised (it took 0x7F as a command). No answer
   * may mean it took the 0x7F as the first byte of a command: a second 0x7F then completes a bad command → NACK.
   */
  async init(timeoutMs = 500): Promise<'synced' | 'already'> {
    await this.transport.serial?.flush().catch(() => undefined);
    await this.send(Uint8Array.of(0x7f));
    const first = await this.byte(timeoutMs).catch((e: unknown) => {
      if (e instanceof FlashError && e.code === 'timeout') return undefined;
      throw e;
    });
    if (first === ACK) return 'synced';
    if (first === NACK) return 'already';
    if (first !== undefined) {
      throw new FlashError('protocol_error', `This port answered 0x${first.toString(16).padStart(2, '0')} to the STM32 bootloader's sync byte: not an STM32 in its system bootloader`, { detail: 'bad sync answer' });
    }
    await this.send(Uint8Array.of(0x7f));
    const second = await this.byte(timeoutMs).catch(() => undefined);
    if (second === NACK || second === ACK) return 'already';
    throw new FlashError('timeout', 'No STM32 bootloader answered the sync byte 0x7F: set BOOT0 high and reset the board (or give the DTR/RTS entry sequence), check TX/RX wiring and the baud', { transient: true, detail: 'no sync' });
  }

  /** Get: bootloader version and the commands it takes. */
  async get(): Promise<{ version: number; commands: number[] }> {
    await this.send(this.cmd(CMD.get));
    await this.ack('Get');
    const [n = 0] = await this.bytes(1);
    const body = await this.bytes(n + 1);
    await this.ack('Get (end)');
    return { version: body[0] ?? 0, commands: [...body.subarray(1)] };
  }

  async getVersion(): Promise<{ version: number; option1: number; option2: number }> {
    await this.send(this.cmd(CMD.getVersion));
    await this.ack('Get Version');
    const b = await this.bytes(3);
    await this.ack('Get Version (end)');
    return { version: b[0] ?? 0, option1: b[1] ?? 0, option2: b[2] ?? 0 };
  }

  async getId(): Promise<number> {
    await this.send(this.cmd(CMD.getId));
    await this.ack('Get ID');
    const [n = 0] = await this.bytes(1);
    const id = await this.bytes(n + 1);
    await this.ack('Get ID (end)');
    return ((id[0] ?? 0) << 8) | (id[1] ?? 0);
  }

  async identify(): Promise<BootloaderInfo> {
    const { version, commands } = await this.get();
    const pid = await this.getId();
    return { version, commands, pid, extendedErase: commands.includes(CMD.extendedErase) };
  }

  /** Read 1–256 bytes. A NACK on the command itself means readout protection is on. */
  async read(address: number, length: number): Promise<Uint8Array> {
    if (length < 1 || length > 256) throw new FlashError('internal', `Read Memory takes 1-256 bytes, not ${length}`);
    const at = hex(address);
    const len = Uint8Array.of(length - 1, (length - 1) ^ 0xff);
    if (this.pipeline) {
      await this.send(concat(this.cmd(CMD.read), addressBytes(address), len));
      await this.ackResync('Read Memory', at);
      await this.ackResync('the read address', at);
      await this.ackResync('the read length', at);
    } else {
      await this.send(this.cmd(CMD.read));
      await this.ack('Read Memory', at);
      await this.send(addressBytes(address));
      await this.ack('the read address', at);
      await this.send(len);
      await this.ack('the read length', at);
    }
    return this.bytes(length);
  }

  /** Write 1–256 bytes at a 4-aligned address (padded with 0xFF to a multiple of 4). */
  async write(address: number, data: Uint8Array): Promise<void> {
    if (data.length < 1 || data.length > 256) throw new FlashError('internal', `Write Memory takes 1-256 bytes, not ${data.length}`);
    if (address % 4 !== 0) throw new FlashError('internal', `Write Memory needs a 4-byte aligned address, not ${hex(address)}`);
    const padded = data.length % 4 === 0 ? data : concat(data, new Uint8Array(4 - (data.length % 4)).fill(0xff));
    const n = padded.length - 1;
    const body = new Uint8Array(padded.length + 2);
    body[0] = n;
    body.set(padded, 1);
    body[body.length - 1] = xor(padded, n);
    const at = hex(address);
    if (this.pipeline) {
      await this.send(concat(this.cmd(CMD.write), addressBytes(address), body));
      await this.ackResync('Write Memory', at);
      await this.ackResync('the write address', at);
      await this.ackResync('the written block', at, 2000);
    } else {
      await this.send(this.cmd(CMD.write));
      await this.ack('Write Memory', at);
      await this.send(addressBytes(address));
      await this.ack('the write address', at);
      await this.send(body);
      await this.ack('the written block', at, 2000);
    }
  }

  /**
   * An ACK after earlier bytes of the same pipelined command were refused: the bootloader then reads the bytes still
   * in flight as commands and NACKs them, so resynchronise before throwing.
   */
  private async ackResync(what: string, at: string, timeoutMs = this.timeoutMs): Promise<void> {
    try {
      await this.ack(what, at, timeoutMs);
    } catch (e) {
      if (e instanceof NackError) await this.resync();
      throw e;
    }
  }

  /**
   * Back to "waiting for a command" after bytes in flight were read as commands: drain stray answers, then send
   * single 0xFF bytes until one is NACKed (a 0xFF completes a half-read pair, or starts one the next 0xFF completes).
   */
  async resync(): Promise<void> {
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setTimeout(r, 20));
      while (await this.byte(20).then(() => true, () => false));
      await this.send(Uint8Array.of(0xff));
      const b = await this.byte(100).catch(() => undefined);
      if (b === NACK) return;
    }
  }

  /** Erase everything (Erase 0xFF / Extended Erase 0xFFFF). */
  async massErase(extended: boolean): Promise<void> {
    if (extended) {
      await this.send(this.cmd(CMD.extendedErase));
      await this.ack('Extended Erase');
      await this.send(Uint8Array.of(0xff, 0xff, 0x00));
    } else {
      await this.send(this.cmd(CMD.erase));
      await this.ack('Erase');
      await this.send(Uint8Array.of(0xff, 0x00));
    }
    await this.ack('the mass erase', '', this.eraseTimeoutMs);
  }

  /** Erase pages or sectors by number (at most 256 per Erase, 0xFFF0 per Extended Erase: callers batch). */
  async erasePages(pages: readonly number[], extended: boolean): Promise<void> {
    if (pages.length === 0) return;
    const what = `pages ${pages[0]}-${pages[pages.length - 1]}`;
    const timeoutMs = Math.max(this.timeoutMs, 5000 + pages.length * 100);
    if (extended) {
      const body = new Uint8Array(2 + pages.length * 2 + 1);
      body[0] = (pages.length - 1) >> 8;
      body[1] = (pages.length - 1) & 0xff;
      pages.forEach((p, i) => {
        body[2 + i * 2] = p >> 8;
        body[3 + i * 2] = p & 0xff;
      });
      body[body.length - 1] = xor(body.subarray(0, body.length - 1));
      await this.send(this.cmd(CMD.extendedErase));
      await this.ack('Extended Erase');
      await this.send(body);
    } else {
      if (pages.length > 256 || pages.some((p) => p > 255)) throw new FlashError('internal', 'Erase (0x43) takes at most 256 pages numbered below 256');
      const body = Uint8Array.of(pages.length - 1, ...pages, 0);
      body[body.length - 1] = xor(body.subarray(0, body.length - 1));
      await this.send(this.cmd(CMD.erase));
      await this.ack('Erase');
      await this.send(body);
    }
    await this.ack(`the erase of ${what}`, '', timeoutMs);
  }

  /** Jump to the application at `address` (its vector table). The bootloader is gone afterwards. */
  async go(address: number): Promise<void> {
    await this.send(this.cmd(CMD.go));
    await this.ack('Go', hex(address));
    await this.send(addressBytes(address));
    await this.ack('the Go address', hex(address));
  }

  /** Readout Unprotect: the chip mass-erases its flash and resets (re-init with 0x7F afterwards). */
  async readoutUnprotect(): Promise<void> {
    await this.send(this.cmd(CMD.readoutUnprotect));
    await this.ack('Readout Unprotect');
    await this.ack('Readout Unprotect (erase done)', '', this.eraseTimeoutMs);
  }

  async readoutProtect(): Promise<void> {
    await this.send(this.cmd(CMD.readoutProtect));
    await this.ack('Readout Protect');
    await this.ack('Readout Protect (done)');
  }

  async writeUnprotect(): Promise<void> {
    await this.send(this.cmd(CMD.writeUnprotect));
    await this.ack('Write Unprotect');
    await this.ack('Write Unprotect (done)');
  }
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
