// PauseGate: drivers await `pass()` between transfers; while closed (paused) it holds them at that safe point.
import { abortReason } from './clock.js';

export class PauseGate {
  private waiters: Array<() => void> = [];
  private closed = false;

  get paused(): boolean {
    return this.closed;
  }

  /** Hold everyone who arrives at the gate from now on. */
  close(): void {
    this.closed = true;
  }

  /** Let everyone through. */
  open(): void {
    this.closed = false;
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) w();
  }

  /** Number of callers currently held at the gate. */
  get held(): number {
    return this.waiters.length;
  }

  pass(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (!this.closed) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const release = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        this.waiters = this.waiters.filter((w) => w !== release);
        if (signal) reject(abortReason(signal));
      };
      this.waiters.push(release);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
