// PauseGate and ProgressPacer: holding drivers at safe points, and at most one frame per interval ending on the latest.
import { describe, expect, it } from 'vitest';
import { PauseGate } from '../../../src/core/pause-gate.js';
import { ProgressPacer } from '../../../src/core/progress-pacer.js';
import { FakeClock, flush } from './fake-clock.js';

describe('PauseGate', () => {
  it('passes at once while open, holds while closed, releases on open', async () => {
    const g = new PauseGate();
    await g.pass();
    g.close();
    let through = false;
    const p = g.pass().then(() => (through = true));
    await flush();
    expect(through).toBe(false);
    expect(g.held).toBe(1);
    g.open();
    await p;
    expect(through).toBe(true);
    expect(g.held).toBe(0);
  });

  it('a cancel while held rejects the held caller', async () => {
    const g = new PauseGate();
    g.close();
    const ac = new AbortController();
    const p = g.pass(ac.signal);
    ac.abort(new Error('cancelled'));
    await expect(p).rejects.toThrow('cancelled');
    expect(g.held).toBe(0);
  });
});

describe('ProgressPacer', () => {
  it('emits at most once per 100 ms and always the last change', async () => {
    const clock = new FakeClock();
    const times: number[] = [];
    const pacer = new ProgressPacer(() => times.push(clock.now()), 100, clock);
    for (let t = 0; t < 1000; t += 7) {
      pacer.poke();
      await clock.advance(7);
    }
    await clock.advance(200);
    expect(times.length).toBeGreaterThanOrEqual(9);
    expect(times.length).toBeLessThanOrEqual(11);
    for (let i = 1; i < times.length; i++) expect((times[i] as number) - (times[i - 1] as number)).toBeGreaterThanOrEqual(100);
    // The trailing frame after the last poke came.
    expect(times[times.length - 1]).toBeGreaterThanOrEqual(994);
  });

  it('flush waits out the interval so the final frame keeps the rate', async () => {
    const clock = new FakeClock();
    const times: number[] = [];
    const pacer = new ProgressPacer(() => times.push(clock.now()), 100, clock);
    pacer.poke();
    await clock.advance(30);
    const done = pacer.flush();
    await clock.advance(100);
    await done;
    expect(times).toEqual([0, 100]);
  });
});
