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

  it('does not count a quiet start (headers, then an image scan) as slow transfer', async () => {
    const clock = new FakeClock();
    const m = new ProgressMeter(3000, clock);
    m.start();
    await clock.advance(5);
    m.add(28); // a sparse header, then 1.5 s of planning before the first data
    await clock.advance(1500);
    m.add(1_000_000);
    // The flow is younger than the warm-up: no speed and no ETA rather than "19 B/s, ETA 979 h".
    expect(m.read(100_000_000)).toEqual({ speed: 0, eta: 0 });
    for (let i = 0; i < 5; i++) {
      await clock.advance(100);
      m.add(5_000_000);
    }
    // 25 MB in the 0.5 s since the flow began: 50 MB/s, not 25 MB / 2 s.
    expect(m.read(100_000_000).speed).toBeCloseTo(50_000_000, -5);
    expect(m.read(100_000_000).eta).toBeCloseTo(2, 1);
  });

  it('keeps a slow steady flow whose counts come more than a second apart, and shows a stall of a real flow', async () => {
    const clock = new FakeClock();
    const m = new ProgressMeter(3000, clock);
    m.start();
    // 1 MiB pieces throttled to ~1 MB/s: each count 1.05 s after the one before.
    for (let i = 0; i < 6; i++) {
      await clock.advance(1050);
      m.add(1 << 20);
    }
    expect(m.read(0).speed).toBeGreaterThan(0.9 * ((1 << 20) / 1.05));
    expect(m.read(0).speed).toBeLessThan(1.1 * ((1 << 20) / 1.05));
    // Then the device stalls: the window slides over the silence and the speed falls to 0.
    await clock.advance(4000);
    expect(m.read(0).speed).toBe(0);
    // It comes back: the window still holds the stall (a real flow is not restarted), so the speed climbs gradually.
    await clock.advance(500);
    m.add(1 << 20);
    const back = m.read(0).speed;
    expect(back).toBeGreaterThan(0);
    expect(back).toBeLessThan((1 << 20) / 1.05);
  });
});
