// Scheduler with fake timers: FIFO per device, station-wide slots, positions, a job waiting for an absent device does
// not hold up others, deadlines expire on the clock, a describing or locked device is not started.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DeviceLink } from '../../../src/contracts/links.js';
import { Scheduler, type Queued } from '../../../src/core/scheduler.js';
import type { DeviceDescription } from '../../../src/contracts/family.js';
import type { AttachedDevice } from '../../../src/devices/registry.js';
import { fakeAttached, type FakeDriver } from '../../helpers/fake-family.js';
import { DeviceRegistry } from '../../../src/devices/registry.js';

const link: DeviceLink = { open: async () => Promise.reject(new Error('no transport')), close: async () => undefined };
const driver = (describe: () => Promise<DeviceDescription> = async () => ({ info: {} })): FakeDriver => ({ describe, run: async () => undefined });
const dev = (id: string, d: FakeDriver = driver()): AttachedDevice => fakeAttached(id, d, link);

interface Rig {
  r: DeviceRegistry;
  s: Scheduler;
  started: string[];
  queued: Array<[string, number]>;
  expired: string[];
  slots: { n: number };
  attach(...ids: string[]): Promise<void>;
}

function rig(slotCount: number): Rig {
  const r = new DeviceRegistry({ emit: () => undefined });
  const started: string[] = [];
  const queued: Array<[string, number]> = [];
  const expired: string[] = [];
  const slots = { n: slotCount };
  const s = new Scheduler(r, () => slots.n, {
    start: (q: Queued) => started.push(q.jobId),
    queued: (q: Queued, pos: number) => queued.push([q.jobId, pos]),
    expired: (q: Queued) => expired.push(q.jobId),
  });
  r.on((event) => {
    if (event !== 'detached') s.pump();
  });
  return {
    r, s, started, queued, expired, slots,
    attach: async (...ids) => {
      for (const id of ids) r.sink.attach(dev(id));
      await Promise.all(ids.map((id) => r.entry(id)!.ready));
    },
  };
}

/** The job ended: free its device and slot, as the job lifecycle does. */
function end(x: Rig, jobId: string, deviceId: string): void {
  x.r.unlock(deviceId, jobId);
  x.s.finished(jobId);
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('Scheduler', () => {
  it('runs one job per device, FIFO, within the slot limit, and announces positions as they change', async () => {
    const x = rig(2);
    await x.attach('A', 'B', 'C');
    x.s.add({ jobId: 'a1', deviceId: 'A' });
    x.s.add({ jobId: 'a2', deviceId: 'A' });
    x.s.add({ jobId: 'b1', deviceId: 'B' });
    x.s.add({ jobId: 'c1', deviceId: 'C' });
    expect(x.started).toEqual(['a1', 'b1']);
    expect(x.s.positionOf('a2')).toBe(1);
    expect(x.s.positionOf('c1')).toBe(2);
    expect(x.r.lockedBy('A')).toBe('a1');
    end(x, 'a1', 'A');
    expect(x.started).toEqual(['a1', 'b1', 'a2']);
    expect(x.queued.at(-1)).toEqual(['c1', 1]);
    end(x, 'b1', 'B');
    expect(x.started).toEqual(['a1', 'b1', 'a2', 'c1']);
    expect(x.s.runningCount).toBe(2);
    expect(x.s.queuedCount).toBe(0);
  });

  it('a job whose device is absent waits without holding up others and starts when the device comes', async () => {
    const x = rig(4);
    x.s.add({ jobId: 'late', deviceId: 'LATE' });
    await x.attach('NOW');
    x.s.add({ jobId: 'now', deviceId: 'NOW' });
    expect(x.started).toEqual(['now']);
    await x.attach('LATE');
    expect(x.started).toEqual(['now', 'late']);
  });

  it('expires a job at its deadline on the clock, and not a moment before', async () => {
    const x = rig(4);
    x.s.add({ jobId: 'y', deviceId: 'GONE', deadline: Date.now() + 30_000 });
    await vi.advanceTimersByTimeAsync(29_990);
    expect(x.expired).toEqual([]);
    expect(x.s.isQueued('y')).toBe(true);
    await vi.advanceTimersByTimeAsync(20);
    expect(x.expired).toEqual(['y']);
    expect(x.s.queuedCount).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('does not expire a job whose device is there but busy', async () => {
    const x = rig(4);
    await x.attach('A');
    x.s.add({ jobId: 'first', deviceId: 'A' });
    x.s.add({ jobId: 'second', deviceId: 'A', deadline: Date.now() + 1000 });
    await vi.advanceTimersByTimeAsync(5000);
    expect(x.expired).toEqual([]);
    end(x, 'first', 'A');
    expect(x.started).toEqual(['first', 'second']);
  });

  it('removes a cancelled queued job and moves the rest up', async () => {
    const x = rig(1);
    await x.attach('A', 'B', 'C');
    x.s.add({ jobId: 'a', deviceId: 'A' });
    x.s.add({ jobId: 'b', deviceId: 'B' });
    x.s.add({ jobId: 'c', deviceId: 'C' });
    expect(x.s.remove('b')).toBe(true);
    expect(x.s.remove('b')).toBe(false);
    expect(x.s.positionOf('c')).toBe(1);
    end(x, 'a', 'A');
    expect(x.started).toEqual(['a', 'c']);
  });

  it('a raised slot limit starts waiting jobs on the next pump; startableNow says who would start', async () => {
    const x = rig(1);
    await x.attach('A', 'B', 'C');
    expect(x.s.startableNow(['A', 'B', 'C'])).toEqual(['A']);
    x.s.add({ jobId: 'a', deviceId: 'A' });
    x.s.add({ jobId: 'b', deviceId: 'B' });
    expect(x.s.startableNow(['C'])).toEqual([]);
    x.slots.n = 3;
    x.s.pump();
    expect(x.started).toEqual(['a', 'b']);
    expect(x.s.freeSlots()).toBe(1);
    expect(x.s.startableNow(['A', 'C'])).toEqual(['C']);
  });

  it('does not start a job on a device that is still being described', async () => {
    const x = rig(2);
    let answer!: (d: DeviceDescription) => void;
    x.r.sink.attach(dev('SLOW', driver(() => new Promise((r) => (answer = r)))));
    x.s.add({ jobId: 'j', deviceId: 'SLOW' });
    expect(x.started).toEqual([]);
    answer({ info: {} });
    await x.r.entry('SLOW')!.ready;
    expect(x.started).toEqual(['j']);
  });
});
