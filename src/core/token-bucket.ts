// TokenBucket: a bandwidth limit in bytes/s whose rate can change live; waiters are served first come, first served.
import type { Clock } from './clock.js';
import { abortReason, systemClock } from './clock.js';

interface Waiter {
  /** Cumulative bytes that must be allowed before this waiter may go. */
  target: number;
  resolve(): void;
  reject(e: unknown): void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export class TokenBucket {
  private rate: number | null;
  /** Cumulative bytes permitted so far. */
  private allowance = 0;
  /** Cumulative bytes asked for so far. */
  private consumed = 0;
  private last: number;
  private waiters: Waiter[] = [];
  private timer: unknown;

  /**
   * `burstSeconds`: how much unused rate may be saved up — enough for a sender that was held up (a busy CPU, a slow
   * device turnaround) to catch up to the limit, small enough that the speed over a few seconds stays within 10 %.
   */
  constructor(
    rate: number | null,
    private readonly clock: Clock = systemClock,
    private readonly burstSeconds = 0.2,
  ) {
    this.rate = normaliseRate(rate);
    this.last = clock.now();
    // A fresh bucket starts with a small allowance; the saved-up burst grows only while a sender falls behind.
    if (this.rate !== null) this.allowance = 16 * 1024;
  }

  private burst(): number {
    return this.rate === null ? 0 : Math.max(16 * 1024, this.rate * this.burstSeconds);
  }

  get bytesPerSecond(): number | null {
    return this.rate;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  setRate(rate: number | null): void {
    this.refill();
    this.rate = normaliseRate(rate);
    if (this.rate === null) this.allowance = this.consumed;
    this.schedule();
  }

  take(n: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (n <= 0) return Promise.resolve();
    if (this.rate === null) {
      this.consumed += n;
      this.allowance = this.consumed;
      return Promise.resolve();
    }
    this.refill();
    this.consumed += n;
    if (this.waiters.length === 0 && this.allowance >= this.consumed) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { target: this.consumed, resolve, reject };
      if (signal) {
        waiter.signal = signal;
        waiter.onAbort = () => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(abortReason(signal));
          this.schedule();
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.waiters.push(waiter);
      this.schedule();
    });
  }

  /** Drop every waiter (shutdown). */
  dispose(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) w.resolve();
  }

  private refill(): void {
    const now = this.clock.now();
    const dt = now - this.last;
    this.last = now;
    if (this.rate === null || dt <= 0) return;
    this.allowance = Math.min(this.allowance + (dt * this.rate) / 1000, Math.max(this.allowance, this.consumed + this.burst()));
  }

  private schedule(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.refill();
    while (this.waiters.length) {
      const first = this.waiters[0] as Waiter;
      if (this.rate !== null && this.allowance < first.target) break;
      this.waiters.shift();
      if (first.onAbort) first.signal?.removeEventListener('abort', first.onAbort);
      first.resolve();
    }
    const next = this.waiters[0];
    if (!next || this.rate === null) return;
    const ms = ((next.target - this.allowance) * 1000) / this.rate;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.schedule();
    }, Math.max(1, Math.ceil(ms)));
  }
}

function normaliseRate(rate: number | null): number | null {
  if (rate === null || !Number.isFinite(rate) || rate <= 0) return null;
  return rate;
}
