// An in-process serial port onto a simulated chip (no pty): a stream Transport with DTR/RTS and baud control.
import { FlashError } from '../../contracts/errors.js';
import type { SerialControl, SerialLineSettings, SerialSignals, Transport } from '../../contracts/links.js';
import type { EspSimDevice } from './device.js';
import { UartModel } from './uart.js';

export class SimSerialTransport implements Transport {
  readonly kind = 'sim' as const;
  readonly serial: SerialControl;
  private isClosed = false;
  private failure: FlashError | undefined;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private waiter: (() => void) | undefined;
  private readonly uart: UartModel;
  private current: SerialLineSettings;
  private bytesSent = 0;

  constructor(
    private readonly device: EspSimDevice,
    readonly path: string,
    settings: SerialLineSettings,
    private readonly onClose: () => void = () => undefined,
  ) {
    this.current = { ...settings };
    this.uart = new UartModel(device, { toHost: (b, baud) => this.deliver(b, baud) });
    const settingsNow = (): Readonly<SerialLineSettings> => ({ ...this.current });
    this.serial = {
      path,
      get settings(): Readonly<SerialLineSettings> {
        return settingsNow();
      },
      update: async (s: Partial<SerialLineSettings>) => {
        this.check();
        this.current = { ...this.current, ...s };
      },
      setSignals: async (s: SerialSignals) => {
        this.check();
        device.setLines(s);
      },
      flush: async () => {
        this.check();
        this.pending = [];
        this.pendingBytes = 0;
      },
    };
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Bytes the chip sent at `baud`; read at another rate, they are noise, as on a real wire. */
  private deliver(bytes: Uint8Array, baud: number): void {
    if (this.isClosed) return;
    const data = baud === this.current.baudRate ? bytes : new Uint8Array(Math.ceil(bytes.length / 2)).fill(0xfe);
    this.pending.push(data);
    this.pendingBytes += data.length;
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** The simulated port went away (a fault, or the simulator stopped). */
  lose(why: string): void {
    if (this.isClosed) return;
    this.failure = new FlashError('disconnected', `Simulated serial port ${this.path} went away (${why}) after ${this.bytesSent} bytes sent; replug the board and retry`, {
      transient: true,
      detail: why,
    });
    this.finish();
  }

  private finish(): void {
    this.isClosed = true;
    this.uart.close();
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
    this.onClose();
  }

  private check(): void {
    if (this.failure) throw this.failure;
    if (this.isClosed) throw new FlashError('disconnected', `Simulated serial port ${this.path} is closed`, { transient: true });
  }

  async write(data: Uint8Array, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw new FlashError('cancelled', 'Cancelled');
    this.check();
    this.bytesSent += data.length;
    this.uart.fromHost(data, this.current.baudRate);
  }

  async drain(): Promise<void> {
    this.check();
  }

  async read(maxLength: number, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<Uint8Array> {
    const { signal, timeoutMs = 5000 } = options;
    const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : Infinity;
    for (;;) {
      if (signal?.aborted) throw new FlashError('cancelled', 'Cancelled');
      if (this.pendingBytes > 0) return this.take(Math.max(1, maxLength));
      this.check();
      const left = deadline - Date.now();
      if (left <= 0) throw new FlashError('timeout', `Simulated serial port ${this.path} sent nothing for ${timeoutMs / 1000} s`, { transient: true });
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        const timer = Number.isFinite(left) ? setTimeout(done, left) : undefined;
        this.waiter = done;
        signal?.addEventListener('abort', done, { once: true });
      });
    }
  }

  private take(maxLength: number): Uint8Array {
    const out = new Uint8Array(Math.min(maxLength, this.pendingBytes));
    let at = 0;
    while (at < out.length) {
      const head = this.pending[0];
      if (!head) break;
      const n = Math.min(head.length, out.length - at);
      out.set(head.subarray(0, n), at);
      at += n;
      if (n === head.length) this.pending.shift();
      else this.pending[0] = head.subarray(n);
    }
    this.pendingBytes -= out.length;
    return out;
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.finish();
  }
}
