// The simulated UART: bytes reach the device and the host no faster than baud / 10 per second, each way.

/** Waits shorter than this run ahead of the model instead of sleeping (timers cannot sleep 0.1 ms). */
const SLACK_MS = 1;

interface Pending {
  bytes: Uint8Array;
  /** Wall time (ms) at which byte 0 has fully arrived; byte i arrives at `start + i * byteMs`. */
  start: number;
}

/** Bytes the device has received, released to the bootloader at the modelled line rate. */
export class UartReceiver {
  private chunks: Pending[] = [];
  private lineFreeAt = 0;
  private waiter: (() => void) | undefined;
  private closed = false;

  constructor(private baud: number) {}

  setBaud(baud: number): void {
    this.baud = baud;
  }

  private get byteMs(): number {
    return 10_000 / this.baud;
  }

  push(bytes: Uint8Array): void {
    if (this.closed || bytes.length === 0) return;
    const now = performance.now();
    const start = Math.max(now, this.lineFreeAt) + this.byteMs;
    this.lineFreeAt = start + (bytes.length - 1) * this.byteMs;
    this.chunks.push({ bytes, start });
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** Drop everything received and not yet taken (a reset). */
  clear(): void {
    this.chunks = [];
  }

  close(): void {
    this.closed = true;
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Exactly `n` bytes, once the last of them has crossed the line. Rejects when the receiver is closed. */
  async take(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let at = 0;
    let lastArrival = 0;
    while (at < n) {
      const head = this.chunks[0];
      if (!head) {
        if (this.closed) throw new Error('uart closed');
        await new Promise<void>((resolve) => {
          this.waiter = resolve;
        });
        continue;
      }
      const used = Math.min(head.bytes.length, n - at);
      out.set(head.bytes.subarray(0, used), at);
      at += used;
      lastArrival = head.start + (used - 1) * this.byteMs;
      if (used === head.bytes.length) this.chunks.shift();
      else this.chunks[0] = { bytes: head.bytes.subarray(used), start: head.start + used * this.byteMs };
    }
    const wait = lastArrival - performance.now();
    if (wait > SLACK_MS) await new Promise((r) => setTimeout(r, wait));
    if (this.closed) throw new Error('uart closed');
    return out;
  }
}

/** Bytes the device sends, delivered to the host once the modelled line has carried them. */
export class UartTransmitter {
  private lineFreeAt = 0;
  private last: Promise<void> = Promise.resolve();

  constructor(
    private baud: number,
    private readonly deliver: (bytes: Uint8Array) => void | Promise<void>,
  ) {}

  setBaud(baud: number): void {
    this.baud = baud;
  }

  send(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const now = performance.now();
    const done = Math.max(now, this.lineFreeAt) + (bytes.length * 10_000) / this.baud;
    this.lineFreeAt = done;
    const prev = this.last;
    this.last = (async () => {
      await prev;
      const wait = done - performance.now();
      if (wait > SLACK_MS) await new Promise((r) => setTimeout(r, wait));
      await this.deliver(bytes);
    })().catch(() => undefined);
  }

  /** Resolves once everything sent so far has been delivered. */
  flushed(): Promise<void> {
    return this.last;
  }
}
