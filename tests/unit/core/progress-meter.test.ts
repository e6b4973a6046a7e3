// ProgressMeter: windowed speed, ETA, and paused time counting in neither.
import { describe, expect, it } from 'vitest';
import { ProgressMeter } from '../../../src/core/progress-meter.js';
import { FakeClock } from './fake-clock.js';

describe('ProgressMeter', () => {
  it('measures speed over the recent window, not since the start', async () => {
    const clock = new FakeClock();
    const m = new ProgressMeter(3000, clock);
    m.start();
    // 10 s at 1 MB/s, then 5 s at 4 MB/s, in 100 ms steps.
    for (let i = 0; i < 100; i++) {
      await clock.advance(100);
      m.add(100_000);
    }
    expect(m.read(0).speed).toBeCloseTo(1_000_000, -3);
    for (let i = 0; i < 50; i++) {
      await clock.advance(100);
      m.add(400_000);
    }
    expect(m.read(0).speed).toBeCloseTo(4_000_000, -4);
    // Since the start it would be 30 MB / 15 s = 2 MB/s.
    expect(m.averageSpeed()).toBeCloseTo(2_000_000, -4);
    expect(m.read(8_000_000).eta).toBeCloseTo(2, 1);
  });

  it('leaves paused time out of speed and ETA', async () => {
    const clock = new FakeClock();
    const m = new ProgressMeter(3000, clock);
    m.start();
    for (let i = 0; i < 30; i++) {
      await clock.advance(100);
      m.add(200_000);
    }
    const before = m.read(6_000_000);
    expect(before.speed).toBeCloseTo(2_000_000, -4);
    m.pause();
    expect(m.read(6_000_000).speed).toBe(0);
    await clock.advance(10_000);
    m.resume();
    // Right after a 10 s pause the speed is still the speed of the time the transfer actually ran.
    await clock.advance(100);
    m.add(200_000);
    const after = m.read(5_800_000);
    expect(after.speed).toBeCloseTo(2_000_000, -4);
    expect(after.eta).toBeCloseTo(2.9, 1);
    expect(m.activeMs()).toBe(3100);
    expect(m.averageSpeed()).toBeCloseTo(2_000_000, -4);
  });

  it('reports no speed and no ETA before anything moved', () => {
    const clock = new FakeClock();
    const m = new ProgressMeter(3000, clock);
    m.start();
    expect(m.read(1000)).toEqual({ speed: 0, eta: 0 });
  });

  it('keeps the peak of windows at least a second long', async () => {
    const clock = new FakeClock();
    const m = new ProgressMeter(3000, clock);
    m.start();
    await clock.advance(10);
    m.add(50_000_000); // a burst in the first 10 ms is not a 5 GB/s peak: it counts over a window of ≥ 1 s
    for (let i = 0; i < 40; i++) {
      await clock.advance(100);
      m.add(300_000);
    }
    expect(m.peakSpeed).toBeLessThan(60_000_000);
    expect(m.peakSpeed).toBeGreaterThanOrEqual(3_000_000);
  });
});
