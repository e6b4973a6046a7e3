// A serial port as a byte-wise stream Transport (serialport 13 bindings): line settings, DTR/RTS, flush, read deadlines.
import { closeSync, constants, openSync } from 'node:fs';
import type { Socket } from 'node:net';
import { ReadStream, isatty } from 'node:tty';
import { SerialPort } from 'serialport';
import { FlashError } from '../contracts/errors.js';
import type { DeviceLink, SerialControl, SerialLineSettings, SerialSignals, Transport } from '../contracts/links.js';
import { cancelledError, describeBytes, raceDeadline, throwIfAborted } from './deadline.js';
import { reconnectingLink } from './reconnecting-link.js';

/** The part of a serialport binding (`SerialPort.binding`, `SerialPortMock.binding`) this transport uses. */
export interface SerialBinding {
  open(options: {
    path: string;
    baudRate: number;
    dataBits?: 5 | 6 | 7 | 8;
    parity?: string;
    stopBits?: 1 | 1.5 | 2;
    lock?: boolean;
    hupcl?: boolean;
  }): Promise<SerialBindingPort>;
}

export interface SerialBindingPort {
  readonly isOpen: boolean;
  close(): Promise<void>;
  read(buffer: Buffer, offset: number, length: number): Promise<{ buffer: Buffer; bytesRead: number }>;
  write(buffer: Buffer): Promise<void>;
  update(options: { baudRate: number }): Promise<void>;
  set(options: { brk?: boolean; cts?: boolean; dsr?: boolean; dtr?: boolean; rts?: boolean }): Promise<void>;
  flush(): Promise<void>;
  drain(): Promise<void>;
}

export interface SerialOpenOptions {
  /** Default: the platform binding serialport detects. Tests pass `SerialPortMock.binding`. */
  binding?: SerialBinding;
  /** Read deadline when `read()` is given none, in ms (default 5000). */
  timeoutMs?: number;
  /** Drop DTR when the port closes (default false: closing must not reset a board wired to DTR). */
  hupcl?: boolean;
  /** Level of both modem lines right after open; Linux raises DTR and RTS when a tty opens (default true). */
  initialSignals?: Required<SerialSignals>;
  /**
   * How bytes move. `stream` (default with the platform binding on Unix): a second descriptor of the tty driven by
   * the event loop (epoll), while the binding's descriptor keeps the lock, the line settings and the modem lines.
   * `binding`: serialport's reads and writes, one thread-pool job each (several times the CPU per byte exchange).
   */
  io?: 'stream' | 'binding';
}

export const DEFAULT_SERIAL_SETTINGS: Readonly<Required<SerialLineSettings>> = { baudRate: 115200, dataBits: 8, parity: 'none', stopBits: 1 };
const READ_CHUNK = 4096;

/** A link that opens `path` with `settings` and reopens it after a failure (unplug and replug). */
export function createSerialLink(path: string, settings: SerialLineSettings, options: SerialOpenOptions = {}): DeviceLink {
  return { kind: 'stream', ...reconnectingLink((signal) => openSerialTransport(path, settings, options, signal)) };
}

/** Open a serial port. Rejects with `port_busy`, `permission_denied` or `device_not_found` saying what to do. */
export async function openSerialTransport(
  path: string,
  settings: SerialLineSettings,
  options: SerialOpenOptions = {},
  signal?: AbortSignal,
): Promise<SerialTransport> {
  throwIfAborted(signal);
  const binding = options.binding ?? (SerialPort.binding as SerialBinding);
  const full = { ...DEFAULT_SERIAL_SETTINGS, ...settings };
  const port = await openPort(binding, path, full, options.hupcl ?? false);
  if (signal?.aborted) {
    await port.close().catch(() => undefined);
    throw cancelledError();
  }
  return new SerialTransport(binding, port, path, full, options);
}

async function openPort(binding: SerialBinding, path: string, s: Required<SerialLineSettings>, hupcl: boolean): Promise<SerialBindingPort> {
  try {
    return await binding.open({ path, baudRate: s.baudRate, dataBits: s.dataBits, parity: s.parity, stopBits: s.stopBits, lock: true, hupcl });
  } catch (e) {
    throw openError(path, e);
  }
}

/** Map an OS open error to a code and a message a technician can act on. */
export function openError(path: string, e: unknown): FlashError {
  const why = e instanceof Error ? e.message : String(e);
  if (/busy|lock|temporarily unavailable|EBUSY|EAGAIN/i.test(why)) {
    return new FlashError('port_busy', `Serial port ${path} is in use by another program (a serial monitor, an IDE, ModemManager or another flasher); close that program and retry`, { cause: e, detail: why });
  }
  if (/permission denied|EACCES|EPERM|access denied/i.test(why)) {
    return new FlashError('permission_denied', `No permission to open serial port ${path}. On Linux add your user to the dialout group (sudo usermod -aG dialout $USER), then log out and in again`, { cause: e, detail: why });
  }
  if (/no such file|ENOENT|does not exist|not found/i.test(why)) {
    return new FlashError('device_not_found', `Serial port ${path} does not exist; check the cable and the port name`, { cause: e, detail: why, transient: true });
  }
  return new FlashError('device_error', `Could not open serial port ${path}: ${why}`, { cause: e, detail: why });
}

export class SerialTransport implements Transport {
  readonly kind = 'serial' as const;
  readonly serial: SerialControl;
  private port: SerialBindingPort;
  private current: Required<SerialLineSettings>;
  private signals: Required<SerialSignals>;
  private isClosed = false;
  private failure: FlashError | undefined;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private waiter: (() => void) | undefined;
  private writes: Promise<void> = Promise.resolve();
  private reading = false;
  private bytesSent = 0;
  private bytesReceived = 0;
  private signalsSet = false;
  private hasModemLines = true;
  /** Bumped on every reopen, so a read loop of the old port stops quietly. */
  private generation = 0;
  /** The event-loop stream over our own descriptor of the tty, when `io` is `stream`. */
  private stream: Socket | undefined;

  constructor(
    private readonly binding: SerialBinding,
    port: SerialBindingPort,
    readonly path: string,
    settings: Required<SerialLineSettings>,
    private readonly options: SerialOpenOptions,
  ) {
    this.port = port;
    this.current = { ...settings };
    this.signals = { ...(options.initialSignals ?? { dtr: true, rts: true }) };
    const settingsNow = (): Readonly<SerialLineSettings> => ({ ...this.current });
    this.serial = {
      path,
      get settings(): Readonly<SerialLineSettings> {
        return settingsNow();
      },
      update: (s) => this.update(s),
      setSignals: (s) => this.setSignals(s),
      flush: () => this.flush(),
    };
    this.startReading();
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Bytes received and not yet read. */
  get buffered(): number {
    return this.pendingBytes;
  }

  private useStream(): boolean {
    return (this.options.io ?? (this.options.binding ? 'binding' : 'stream')) === 'stream' && process.platform !== 'win32';
  }

  /** Our own non-blocking descriptor of the tty as a socket-like stream; undefined where that is not possible. */
  private openStream(): Socket | undefined {
    let fd: number;
    try {
      fd = openSync(this.path, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
    } catch {
      return undefined;
    }
    if (!isatty(fd)) {
      closeSync(fd);
      return undefined;
    }
    // A tty.ReadStream is a duplex socket over the TTY handle: it writes too.
    return new ReadStream(fd);
  }

  private onChunk(chunk: Uint8Array): void {
    this.bytesReceived += chunk.length;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.wake();
  }

  private startReading(): void {
    if (this.reading) return;
    this.reading = true;
    const generation = this.generation;
    if (this.useStream() && !this.stream) this.stream = this.openStream();
    const stream = this.stream;
    if (stream) {
      const live = (): boolean => generation === this.generation && !this.isClosed;
      stream.on('data', (chunk: Buffer) => {
        if (live()) this.onChunk(chunk);
      });
      stream.on('error', (e: Error) => {
        if (live()) this.lost(e.message);
      });
      stream.on('close', () => {
        if (live()) this.lost('the port closed');
      });
      return;
    }
    const port = this.port;
    const loop = async (): Promise<void> => {
      while (!this.isClosed && generation === this.generation) {
        const buf = Buffer.allocUnsafe(READ_CHUNK);
        let got: number;
        try {
          ({ bytesRead: got } = await port.read(buf, 0, READ_CHUNK));
        } catch (e) {
          if (generation !== this.generation || this.isClosed) return;
          if ((e as { canceled?: boolean }).canceled) return;
          this.lost(e instanceof Error ? e.message : String(e));
          return;
        }
        if (generation !== this.generation) return;
        if (got > 0) this.onChunk(buf.subarray(0, got));
      }
    };
    // A throw past the read (a consumer's onChunk) ends the link as lost rather than as an unhandled rejection.
    loop()
      .catch((e: unknown) => {
        if (generation === this.generation && !this.isClosed) this.lost(e instanceof Error ? e.message : String(e));
      })
      .finally(() => {
        if (generation === this.generation) this.reading = false;
      });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  private lost(why: string): void {
    if (this.failure) return;
    this.isClosed = true;
    this.failure = new FlashError(
      'disconnected',
      `Serial port ${this.path} went away (${why}) after ${describeBytes(this.bytesSent)} sent; check the cable, replug the board and retry`,
      { transient: true, detail: why },
    );
    this.wake();
    this.dropStream();
    void this.port.close().catch(() => undefined);
  }

  private dropStream(): void {
    const s = this.stream;
    this.stream = undefined;
    s?.destroy();
  }

  private check(): void {
    if (this.failure) throw this.failure;
    if (this.isClosed) throw new FlashError('disconnected', `Serial port ${this.path} is closed`, { transient: true });
  }

  async write(data: Uint8Array, signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    this.check();
    if (data.length === 0) return;
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const port = this.port;
    const stream = this.stream;
    const op = this.writes.then(() =>
      stream
        ? new Promise<void>((resolve, reject) => stream.write(buf, (e) => (e ? reject(e) : resolve())))
        : port.write(buf),
    );
    this.writes = op.catch(() => undefined);
    try {
      await op;
      this.bytesSent += data.length;
    } catch (e) {
      if (this.failure) throw this.failure;
      this.lost(e instanceof Error ? e.message : String(e));
      throw this.failure ?? e;
    }
  }

  async drain(signal?: AbortSignal): Promise<void> {
    this.check();
    await raceDeadline(this.writes.then(() => this.port.drain()), undefined, () => cancelledError(), signal).catch((e: unknown) => {
      if (e instanceof FlashError) throw e;
      this.lost(e instanceof Error ? e.message : String(e));
      throw this.failure ?? e;
    });
  }

  async read(maxLength: number, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<Uint8Array> {
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs ?? 5000;
    const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : undefined;
    for (;;) {
      throwIfAborted(options.signal);
      if (this.pendingBytes > 0) return this.take(Math.max(1, maxLength));
      this.check();
      const wait = new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
      const left = deadline === undefined ? undefined : Math.max(1, deadline - Date.now());
      await raceDeadline(
        wait,
        left,
        () => new FlashError('timeout', `Serial port ${this.path} sent nothing for ${timeoutMs / 1000} s`, { transient: true }),
        options.signal,
      ).catch((e: unknown) => {
        this.waiter = undefined;
        throw e;
      });
    }
  }

  private take(maxLength: number): Uint8Array {
    const head = this.pending[0];
    if (!head) return new Uint8Array(0);
    if (head.length <= maxLength && this.pending.length === 1) {
      this.pending = [];
      this.pendingBytes = 0;
      return head;
    }
    const n = Math.min(maxLength, this.pendingBytes);
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const part = this.pending[0];
      if (!part) break;
      const used = Math.min(part.length, n - at);
      out.set(part.subarray(0, used), at);
      at += used;
      if (used === part.length) this.pending.shift();
      else this.pending[0] = part.subarray(used);
    }
    this.pendingBytes -= n;
    return out;
  }

  private async update(s: Partial<SerialLineSettings>): Promise<void> {
    this.check();
    const next = { ...this.current, ...s };
    const lineChanged = next.dataBits !== this.current.dataBits || next.parity !== this.current.parity || next.stopBits !== this.current.stopBits;
    if (!lineChanged) {
      if (next.baudRate === this.current.baudRate) return;
      await this.writes;
      await this.port.update({ baudRate: next.baudRate }).catch((e: unknown) => {
        throw new FlashError('unsupported', `Serial port ${this.path} cannot run at ${next.baudRate} baud`, { cause: e, detail: String(e) });
      });
      this.current = next;
      return;
    }
    // The bindings change only the baud on an open port: reopen for data bits, parity or stop bits, keeping DTR/RTS.
    await this.writes;
    this.generation++;
    this.reading = false;
    this.dropStream();
    await this.port.close().catch(() => undefined);
    try {
      this.port = await openPort(this.binding, this.path, next, this.options.hupcl ?? false);
    } catch (e) {
      this.isClosed = true;
      this.failure = e instanceof FlashError ? e : openError(this.path, e);
      this.wake();
      throw this.failure;
    }
    this.current = next;
    this.pending = [];
    this.pendingBytes = 0;
    this.startReading();
    if (this.signalsSet) await this.applySignals();
  }

  private async setSignals(s: SerialSignals): Promise<void> {
    this.check();
    this.signals = { dtr: s.dtr ?? this.signals.dtr, rts: s.rts ?? this.signals.rts };
    this.signalsSet = true;
    await this.applySignals();
  }

  /**
   * Always both lines: serialport's `set()` would otherwise assert the one left out. A pseudo-terminal has no modem
   * lines (ENOTTY): nothing is wired to them, so the call does nothing there and `modemLines` turns false.
   */
  private async applySignals(): Promise<void> {
    if (!this.hasModemLines) return;
    try {
      await this.port.set({ dtr: this.signals.dtr, rts: this.signals.rts, brk: false, cts: false, dsr: false });
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      if (/inappropriate ioctl|ENOTTY/i.test(why)) {
        this.hasModemLines = false;
        return;
      }
      throw new FlashError('device_error', `Serial port ${this.path} could not set DTR/RTS: ${why}`, { cause: e, detail: why });
    }
  }

  /** False once the port turned out to have no DTR/RTS (a pty): reset sequences cannot reach the board. */
  get modemLines(): boolean {
    return this.hasModemLines;
  }

  private async flush(): Promise<void> {
    this.check();
    await this.writes;
    await this.port.flush().catch(() => undefined);
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** Bytes sent and received since open, for progress and error offsets. */
  get counters(): { sent: number; received: number } {
    return { sent: this.bytesSent, received: this.bytesReceived };
  }

  async close(): Promise<void> {
    if (this.isClosed && !this.failure) return;
    const wasFailed = this.failure !== undefined;
    this.isClosed = true;
    this.failure ??= new FlashError('disconnected', `Serial port ${this.path} is closed`, { transient: true });
    this.wake();
    if (!wasFailed) {
      await this.writes;
      this.dropStream();
      await this.port.close().catch(() => undefined);
    }
  }
}

/** Read exactly `n` bytes (several reads), each wait bounded by `timeoutMs`. */
export async function readExact(t: Transport, n: number, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<Uint8Array> {
  const first = await t.read(n, options);
  if (first.length === n) return first;
  const out = new Uint8Array(n);
  out.set(first);
  let at = first.length;
  while (at < n) {
    const part = await t.read(n - at, options);
    out.set(part, at);
    at += part.length;
  }
  return out;
}
