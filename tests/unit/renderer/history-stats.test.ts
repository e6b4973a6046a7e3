// History figures: throughput buckets, success rates per device and per image, filters.
import { describe, expect, it } from 'vitest';
import { bucketWidth, filterJobs, imageOf, successRates, throughputOverTime } from '../../../src/renderer/lib/history-stats.js';
import { job } from './ws-fixture.js';

const H = 3600e3;
const jobs = [
  job('a', 'D1', { state: 'completed', target: 'boot ← /img/boot.img', bytesTransferred: 10e6, startedAt: 0, endedAt: 10e3 }),
  job('b', 'D1', { state: 'failed', target: 'boot ← /img/boot.img', bytesTransferred: 1e6, startedAt: 0, endedAt: 20e3 }),
  job('c', 'D2', { state: 'completed', target: 'system ← /img/system.img', bytesTransferred: 40e6, startedAt: 2 * H, endedAt: 2 * H + 20e3 }),
  job('d', 'D2', { state: 'cancelled', target: 'system ← /img/system.img', bytesTransferred: 0, startedAt: 2 * H, endedAt: 2 * H + 1e3 }),
];

describe('history stats', () => {
  it('buckets bytes and average speed over time', () => {
    const pts = throughputOverTime(jobs);
    expect(bucketWidth(2 * H)).toBe(300e3);
    expect(pts[0]).toMatchObject({ t: 0, bytes: 11e6, jobs: 2, speed: 1e6 });
    const last = pts[pts.length - 1];
    expect(last).toMatchObject({ bytes: 40e6, jobs: 2, speed: 2e6 });
    expect(pts.reduce((a, p) => a + p.bytes, 0)).toBe(51e6);
  });

  it('computes success rate per device and per image, not counting cancellations', () => {
    const byDevice = Object.fromEntries(successRates(jobs, (j) => j.deviceId).map((r) => [r.key, r]));
    expect(byDevice.D1).toMatchObject({ completed: 1, failed: 1, rate: 0.5 });
    expect(byDevice.D2).toMatchObject({ completed: 1, cancelled: 1, rate: 1 });
    expect(successRates(jobs, imageOf).map((r) => r.key).sort()).toEqual(['/img/boot.img', '/img/system.img']);
  });

  it('filters by device, outcome, image text and time', () => {
    expect(filterJobs(jobs, { deviceId: 'D2' }).map((j) => j.jobId)).toEqual(['c', 'd']);
    expect(filterJobs(jobs, { state: 'failed' }).map((j) => j.jobId)).toEqual(['b']);
    expect(filterJobs(jobs, { image: 'SYSTEM' }).map((j) => j.jobId)).toEqual(['c', 'd']);
    expect(filterJobs(jobs, { from: H }).map((j) => j.jobId)).toEqual(['c', 'd']);
  });
});
