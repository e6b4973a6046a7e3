// The UART between host and chip: at most baud/10 bytes per second each way (8N1), at the rate in force when sent.
import type { EspSimDevice } from './device.js';

export interface UartSink {
  /** Bytes that reached the host's side of the wire, sent at `baud`. */
  toHost(bytes: Uint8Array, baud: number): void;
}

/**
 * Bytes from the host reach the device once the wire could have carried them; bytes from the device reach the host
 * likewise. Each direction keeps a virtual clock, so timer granularity delays delivery without lowering the rate.
 */
export class UartModel {
  private rxFree = 0;
  private txFree = 0;
  private closed = false;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly device: EspSimDevice,
    private readonly sink: UartSink,
  ) {
    device.on({ output: (bytes) => this.fromDevice(bytes) });
  }

  private byteMs(): number {
    return 10_000 / this.device.baud;
  }

  private at(time: number, fn: () => void): void {
    const wait = time - performance.now();
    if (wait <= 0.5) {
      fn();
      return;
    }
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) fn();
    }, wait);
    this.timers.add(t);
  }

  /**
   * Bytes the host sent at `hostBaud` (undefined: a pty, which has no baud). Sent at a rate other than the chip's,
   * they arrive as noise, as on a real wire.
   */
  fromHost(bytes: Uint8Array, hostBaud?: number): void {
    if (this.closed || bytes.length === 0) return;
    const copy = bytes.slice();
    this.rxFree = Math.max(performance.now(), this.rxFree) + copy.length * this.byteMs();
    this.at(this.rxFree, () => this.device.receive(hostBaud === undefined || hostBaud === this.device.baud ? copy : copy.fill(0xfe)));
  }

  private fromDevice(bytes: Uint8Array): void {
    if (this.closed) return;
    const baud = this.device.baud;
    this.txFree = Math.max(performance.now(), this.txFree) + bytes.length * this.byteMs();
    this.at(this.txFree, () => this.sink.toHost(bytes, baud));
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
