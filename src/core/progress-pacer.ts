// ProgressPacer: the contract's "at most 10 flash_progress per second per job" (§2.1), always ending on the latest
// state. Regular frames go one per interval (8/s by default); that leaves room in every one-second window for the last
// frame (100 %) to go the moment the device work is done, instead of waiting out the interval before the job can end.
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';

/** The contract's limit: this many frames in any window of WINDOW_MS. */
export const MAX_FRAMES_PER_WINDOW = 10;
export const WINDOW_MS = 1000;
/** The regular frames' spacing: 8 a second. */
export const PROGRESS_INTERVAL_MS = 125;

export class ProgressPacer {
  private timer: unknown;
  /** When the last MAX_FRAMES_PER_WINDOW frames went, oldest first. */
  private readonly sent: number[] = [];

  constructor(
    private readonly emit: () => void,
    private readonly intervalMs = PROGRESS_INTERVAL_MS,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Something changed: emit now if the interval has passed, else once it has. */
  poke(): void {
    if (this.timer !== undefined) return;
    const last = this.sent.at(-1) ?? -Infinity;
    const wait = Math.max(last + this.intervalMs, this.windowOpensAt()) - this.clock.now();
    if (wait <= 0) this.fire();
    else this.timer = this.clock.setTimeout(() => this.fire(), wait);
  }

  /** Emit the final frame: at once, unless that would make more than the limit within one window. */
  async flush(): Promise<void> {
    this.cancel();
    const wait = this.windowOpensAt() - this.clock.now();
    if (wait > 0) await new Promise<void>((r) => this.clock.setTimeout(r, wait));
    this.fire();
  }

  cancel(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The earliest time one more frame keeps every window within the limit. */
  private windowOpensAt(): number {
    return this.sent.length < MAX_FRAMES_PER_WINDOW ? -Infinity : (this.sent[0] ?? 0) + WINDOW_MS;
  }

  private fire(): void {
    this.timer = undefined;
    this.sent.push(this.clock.now());
    if (this.sent.length > MAX_FRAMES_PER_WINDOW) this.sent.shift();
    this.emit();
  }
}
