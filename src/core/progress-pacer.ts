// ProgressPacer: runs an emit callback at most once per interval (≤ 10 frames/s), always ending on the latest state.
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';

export class ProgressPacer {
  private last = -Infinity;
  private timer: unknown;

  constructor(
    private readonly emit: () => void,
    private readonly intervalMs = 100,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Something changed: emit now if the interval has passed, else once it has. */
  poke(): void {
    if (this.timer !== undefined) return;
    const wait = this.last + this.intervalMs - this.clock.now();
    if (wait <= 0) this.fire();
    else this.timer = this.clock.setTimeout(() => this.fire(), wait);
  }

  /** Emit a final frame, waiting out the interval so the rate limit holds even for the last one. */
  async flush(): Promise<void> {
    this.cancel();
    const wait = this.last + this.intervalMs - this.clock.now();
    if (wait > 0) await new Promise<void>((r) => this.clock.setTimeout(r, wait));
    this.fire();
  }

  cancel(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private fire(): void {
    this.timer = undefined;
    this.last = this.clock.now();
    this.emit();
  }
}
