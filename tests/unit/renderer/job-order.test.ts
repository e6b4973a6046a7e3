// Job cards keep their place while active: pausing, resuming or starting a job never moves its card (or the next
// click would land on another device's button); finished cards come after, most recently ended first.
import { describe, expect, it } from 'vitest';
import { orderJobs } from '../../../src/renderer/lib/job-order.js';
import type { ActiveJob } from '../../../src/renderer/lib/station-state.js';
import { job } from './ws-fixture.js';

const active = (id: string, deviceId: string, patch: Partial<ActiveJob> = {}): ActiveJob => ({ ...job(id, deviceId), updatedAt: 0, ...patch });
const ids = (jobs: ActiveJob[]) => orderJobs(jobs).map((j) => j.jobId);

describe('job order', () => {
  it('does not move a card when its job is paused, resumed or starts', () => {
    const jobs = [
      active('a', 'STN01', { state: 'running', createdAt: 100 }),
      active('b', 'STN02', { state: 'running', createdAt: 100 }),
      active('c', 'STN03', { state: 'queued', createdAt: 100 }),
    ];
    const before = ids(jobs);
    expect(before).toEqual(['a', 'b', 'c']);
    expect(ids([{ ...jobs[0]!, state: 'paused' }, jobs[1]!, jobs[2]!])).toEqual(before);
    expect(ids([jobs[0]!, jobs[1]!, { ...jobs[2]!, state: 'running' }])).toEqual(before);
    expect(ids([jobs[0]!, { ...jobs[1]!, state: 'paused' }, { ...jobs[2]!, state: 'paused' }])).toEqual(before);
  });

  it('orders devices of one batch numerically, and older requests first', () => {
    const jobs = [active('x', 'STN10', { createdAt: 5 }), active('y', 'STN9', { createdAt: 5 }), active('z', 'AAA', { createdAt: 9 })];
    expect(ids(jobs)).toEqual(['y', 'x', 'z']);
  });

  it('puts finished jobs after active ones, most recently ended first', () => {
    const jobs = [
      active('old', 'D1', { state: 'completed', createdAt: 1, endedAt: 10 }),
      active('new', 'D2', { state: 'failed', createdAt: 2, endedAt: 30 }),
      active('mid', 'D3', { state: 'cancelled', createdAt: 3, endedAt: 20 }),
      active('run', 'D4', { state: 'paused', createdAt: 50 }),
    ];
    expect(ids(jobs)).toEqual(['run', 'new', 'mid', 'old']);
  });
});

describe('queue order', () => {
  it('lists jobs holding a slot first, then waiting ones by their queue position', async () => {
    const { orderQueue } = await import('../../../src/renderer/lib/job-order.js');
    const jobs = [
      active('w2', 'A', { state: 'queued', queuePosition: 2, createdAt: 1 }),
      active('r', 'B', { state: 'paused', createdAt: 2 }),
      active('w1', 'C', { state: 'queued', queuePosition: 1, createdAt: 3 }),
    ];
    expect(orderQueue(jobs).map((j) => j.jobId)).toEqual(['r', 'w1', 'w2']);
  });
});
