// The host end of an in-process simulated serial line: a Transport with SerialControl, bytes through the UART model.
import { FlashError } from '../../contracts/errors.js';
import type { SerialControl, SerialLineSettings, Transport } from '../../contracts/links.js';
import type { SimLine, Stm32SimDevice } from './device.js';

export class SimSerialTransport implements Transport {
  readonly kind = 'sim' as const;
  readonly serial: SerialControl;
  private readonly line: SimLine;
  private pending: Uint8Array[] = [];
  private waiter: (() => void) | undefined;
  private failure: FlashError | undefined;
  private sent = 0;
  private settings: SerialLineSettings;

  constructor(device: Stm32SimDevice, settings: SerialLineSettings, readonly label: string) {
    this.settings = { dataBits: 8, parity: 'none', stopBits: 1, ...settings };
    this.line = device.connect(
      (bytes) => {
        this.pending.push(bytes);
        this.wake();
      },
      () => this.fail(`${label} dropped off the line after ${this.sent} bytes sent`),
    );
    const current = (): Readonly<SerialLineSettings> => ({ ...this.settings });
    this.serial = {
      path: label,
      get settings(): Readonly<SerialLineSettings> {
        return current();
      },
      update: async (s) => {
        this.settings = { ...this.settings, ...s };
      },
      setSignals: async () => undefined,
      flush: async () => {
        this.pending = [];
      },
    };
  }

  get closed(): boolean {
    return this.failure !== undefined;
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  private fail(message: string): void {
    this.failure ??= new FlashError('disconnected', message, { transient: true });
    this.line.close();
    this.wake();
  }

  async write(data: Uint8Array): Promise<void> {
    if (this.failure) throw this.failure;
    this.sent += data.length;
    this.line.push(data.slice());
  }

  async drain(): Promise<void> {
    if (this.failure) throw this.failure;
  }

  async read(maxLength: number, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<Uint8Array> {
    const timeoutMs = options.timeoutMs ?? 5000;
    const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : Infinity;
    for (;;) {
      if (options.signal?.aborted) throw new FlashError('cancelled', 'Cancelled');
      const head = this.pending[0];
      if (head) {
        if (head.length <= maxLength) {
          this.pending.shift();
          return head;
        }
        this.pending[0] = head.subarray(maxLength);
        return head.subarray(0, maxLength);
      }
      if (this.failure) throw this.failure;
      const left = deadline - Date.now();
      if (left <= 0) throw new FlashError('timeout', `${this.label} sent nothing for ${timeoutMs / 1000} s`, { transient: true });
      await new Promise<void>((resolve) => {
        const t = Number.isFinite(left) ? setTimeout(resolve, left) : undefined;
        const onAbort = (): void => resolve();
        options.signal?.addEventListener('abort', onAbort, { once: true });
        this.waiter = () => {
          if (t) clearTimeout(t);
          options.signal?.removeEventListener('abort', onAbort);
          resolve();
        };
      });
    }
  }

  async close(): Promise<void> {
    if (!this.failure) this.fail(`${this.label} is closed`);
  }
}
