// Timing of a simulated link: a rate in bytes per second plus a turnaround paid by every transfer that finds the
// link idle. Transfers queued behind one another (several in flight) overlap their turnaround, as on real USB.
import { setTimeout as sleep } from 'node:timers/promises';
import type { SimLinkModel } from './config.js';

/** Lateness we forgive: beyond it the host really was idle. */
const MAX_LATE_MS = 5;

export class LinkPacer {
  readonly model: SimLinkModel;
  #busyUntil = 0;
  #inflight = 0;
  /** How late (ms) the last transfer was reported done, because of timer granularity. */
  #late = 0;

  constructor(model: SimLinkModel) {
    this.model = model;
  }

  get active(): boolean {
    return this.model.bytesPerSecond > 0 || this.model.latencyMs > 0;
  }

  /**
   * Resolves when `bytes` have crossed the link. Keeps a virtual clock so sub-millisecond transfers average out
   * right without a timer per transfer.
   */
  async transfer(bytes: number): Promise<void> {
    if (!this.active) return;
    const now = performance.now();
    // Behind a transfer still in flight, this one queues: the link stays busy back to back, even when our timers
    // told the host late. On an idle link it starts now (less our own lateness in reporting the last one) and pays
    // the turnaround.
    const start =
      this.#inflight > 0 ? this.#busyUntil : Math.max(this.#busyUntil, now - this.#late) + this.model.latencyMs;
    const done = start + (this.model.bytesPerSecond > 0 ? (bytes * 1000) / this.model.bytesPerSecond : 0);
    this.#busyUntil = done;
    this.#inflight++;
    try {
      const wait = done - performance.now();
      // Resolve no earlier than the next turn of the event loop, so a host that queues several transfers at once
      // finds the earlier ones still in flight (and overlaps their turnaround).
      if (wait >= 1) await sleep(wait);
      else await new Promise<void>((resolve) => setImmediate(resolve));
    } finally {
      this.#inflight--;
      this.#late = Math.min(MAX_LATE_MS, Math.max(0, performance.now() - done));
    }
  }
}
