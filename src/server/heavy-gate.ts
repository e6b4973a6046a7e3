// A concurrency gate for the HTTP endpoints that read many history rows (CSV export, analytics): a few run at once,
// a few more wait, and past that the station answers 429 rather than let one client starve the others.
import { FlashError } from '../contracts/errors.js';

export interface HeavyGate {
  /** Run `work` when a place is free; rejects with `rate_limited` when too many already wait. */
  run<T>(work: () => Promise<T>): Promise<T>;
  readonly running: number;
  readonly waiting: number;
}

export function createHeavyGate(options: { concurrent?: number; queued?: number } = {}): HeavyGate {
  const concurrent = options.concurrent ?? 2;
  const queued = options.queued ?? 8;
  const queue: Array<() => void> = [];
  let running = 0;
  const release = (): void => {
    running--;
    const next = queue.shift();
    if (next) {
      running++;
      next();
    }
  };
  return {
    async run<T>(work: () => Promise<T>): Promise<T> {
      if (running >= concurrent) {
        if (queue.length >= queued) {
          throw new FlashError('rate_limited', `Too many history exports at once (${running} running, ${queue.length} waiting); retry in a few seconds.`);
        }
        await new Promise<void>((resolve) => queue.push(resolve));
      } else {
        running++;
      }
      try {
        return await work();
      } finally {
        release();
      }
    },
    get running() {
      return running;
    },
    get waiting() {
      return queue.length;
    },
  };
}
