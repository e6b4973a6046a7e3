import { describe, expect, it } from 'vitest';
import { MAX_FRAMES_PER_WINDOW, PROGRESS_INTERVAL_MS, ProgressPacer, WINDOW_MS } from '../../../src/core/progress-pacer.js';
import { FakeClock } from './fake-clock.js';

/** The contract's rule, checked over every window that ends at a frame. */
function maxInAnyWindow(times: number[]): number {
  let most = 0;
  for (const end of times) most = Math.max(most, times.filter((t) => t > end - WINDOW_MS && t <= end).length);
  return most;
}

function paced(interval?: number): { clock: FakeClock; pacer: ProgressPacer; times: number[] } {
  const clock = new FakeClock();
  const times: number[] = [];
  const pacer = new ProgressPacer(() => times.push(clock.now()), interval, clock);
  return { clock, pacer, times };
}

describe('ProgressPacer', () => {
  it('sends the first change at once and later ones one interval apart, ending on the latest', async () => {
    const { clock, pacer, times } = paced();
    pacer.poke();
    expect(times).toEqual([0]);
    for (let t = 0; t < 10; t++) {
      await clock.advance(10);
      pacer.poke(); // many changes within one interval: one timer, one frame
    }
    expect(clock.pending).toBe(1);
    await clock.advance(PROGRESS_INTERVAL_MS);
    expect(times).toEqual([0, PROGRESS_INTERVAL_MS]);
  });

  it('a steady stream of changes: one frame per interval, and a trailing frame for the last change', async () => {
    const { clock, pacer, times } = paced();
    for (let t = 0; t < 1000; t += 7) {
      pacer.poke();
      await clock.advance(7);
    }
    await clock.advance(200);
    expect(times.length).toBeGreaterThanOrEqual(8);
    expect(times.length).toBeLessThanOrEqual(9);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(PROGRESS_INTERVAL_MS);
    expect(times.at(-1)).toBeGreaterThanOrEqual(994); // the change poked at 994 was sent
  });

  it('sends the final frame at once after a steady stream, within the contract limit', async () => {
    const { clock, pacer, times } = paced();
    for (let t = 0; t < 3000; t += 5) {
      pacer.poke();
      await clock.advance(5);
    }
    const before = clock.now();
    await pacer.flush();
    expect(times.at(-1)).toBe(before); // no wait: the job can end now
    expect(maxInAnyWindow(times)).toBeLessThanOrEqual(MAX_FRAMES_PER_WINDOW);
  });

  it('waits with the final frame when the window is full (a pacer spaced at the limit)', async () => {
    const { clock, pacer, times } = paced(WINDOW_MS / MAX_FRAMES_PER_WINDOW);
    for (let t = 0; t < 2000; t += 5) {
      pacer.poke();
      await clock.advance(5);
    }
    const done = pacer.flush();
    let flushed = false;
    void done.then(() => (flushed = true));
    await clock.advance(1);
    const last = times.at(-1)!;
    expect(flushed).toBe(false);
    await clock.advance(WINDOW_MS);
    expect(flushed).toBe(true);
    expect(times.at(-1)).toBeGreaterThan(last);
    expect(maxInAnyWindow(times)).toBeLessThanOrEqual(MAX_FRAMES_PER_WINDOW);
  });

  it('cancel drops a pending frame', async () => {
    const { clock, pacer, times } = paced();
    pacer.poke();
    pacer.poke();
    pacer.cancel();
    await clock.advance(1000);
    expect(times).toEqual([0]);
  });
});
