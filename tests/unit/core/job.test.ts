// ActiveJob byte accounting: data bytes of flash steps only, retries never count twice, progress never goes back,
// an estimated total grows, 100 only at completion.
import { describe, expect, it } from 'vitest';
import { ActiveJob } from '../../../src/core/job.js';
import type { JobSpec } from '../../../src/core/job-spec.js';
import { FakeClock } from './fake-clock.js';

const spec: JobSpec = { deviceId: 'D', target: 't', steps: [], planJson: '{}', release: async () => undefined };

function job(total: number): ActiveJob {
  const j = new ActiveJob('j', { ...spec }, null, new FakeClock());
  j.totalBytes = total;
  j.state = 'running';
  j.meter.start();
  return j;
}

describe('ActiveJob', () => {
  it('counts flash bytes across steps and ignores other steps', () => {
    const j = job(300);
    j.beginStep(0, true);
    j.moved(100);
    j.beginStep(1, false); // e.g. verify reading back
    j.moved(500);
    j.beginStep(2, true);
    j.moved(150);
    expect(j.bytesTransferred).toBe(250);
    expect(j.progress()).toBeCloseTo(83.3, 1);
  });

  it('does not count a retried step twice, and progress never goes back', () => {
    const j = job(200);
    j.beginStep(0, true);
    j.beginAttempt();
    j.moved(120);
    const p1 = j.progress();
    j.beginAttempt(); // the device dropped: start the step again
    j.moved(50);
    expect(j.bytesTransferred).toBe(120);
    expect(j.progress()).toBe(p1);
    j.moved(100);
    expect(j.bytesTransferred).toBe(150);
    expect(j.stepBytes).toBe(150);
  });

  it('grows an estimated total instead of passing 100, and says 100 only when completed', () => {
    const j = job(100);
    j.beginStep(0, true);
    j.moved(150);
    expect(j.totalBytes).toBe(150);
    expect(j.exactTotal).toBe(false);
    expect(j.progress()).toBeLessThan(100);
    j.finish('completed');
    expect(j.progress()).toBe(100);
    expect(j.snapshot()).toMatchObject({ state: 'completed', progress: 100, bytesTransferred: 150, totalBytes: 150 });
  });

  it('keeps progress from dropping when the total grows', () => {
    const j = job(100);
    j.beginStep(0, true);
    j.moved(90);
    const before = j.progress();
    j.moved(60); // total grows to 150: 150/150 would be 100, capped; then more bytes of a bigger image
    expect(j.progress()).toBeGreaterThanOrEqual(before);
  });
});
