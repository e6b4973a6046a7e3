// runJob on fake timers with a fake driver: the steps in order, paced progress ending at 100, retries after the retry
// delay without counting bytes twice, a broken image failing before any write, cancels, and the outcome it returns
// (the final event is the lifecycle's, never the runner's).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DeviceLink } from '../../../src/contracts/links.js';
import type { BlockSource } from '../../../src/contracts/source.js';
import { systemClock } from '../../../src/core/clock.js';
import { FlashError } from '../../../src/core/errors.js';
import type { HashRecords } from '../../../src/core/hash-records.js';
import { ActiveJob } from '../../../src/core/job.js';
import { JobRecord, type JobStore } from '../../../src/core/job-record.js';
import { runJob, type RunnerDeps } from '../../../src/core/job-runner.js';
import type { JobSpec } from '../../../src/core/job-spec.js';
import { DEFAULT_SETTINGS, type Settings } from '../../../src/core/settings.js';
import { TokenBucket } from '../../../src/core/token-bucket.js';
import type { JobContext, PlanStep } from '../../../src/contracts/family.js';
import { fakeAttached, type FakeDriver } from '../../helpers/fake-family.js';
import { DeviceRegistry } from '../../../src/devices/registry.js';
import type { LoadedStep, PlanImage } from '../../../src/images/index.js';
import type { ServerMessage } from '../../../src/protocol/messages.js';

const link: DeviceLink = { open: async () => Promise.reject(new Error('unused')), close: async () => undefined };

function source(bytes: number): BlockSource {
  return {
    size: bytes, dataBytes: bytes, exact: true, description: 'test image', blockSize: 4096, reopenable: true,
    chunks: async function* () { /* the fake driver counts bytes itself */ },
    sha256: async () => 'ab'.repeat(32), hashStarted: true,
  };
}

function image(bytes: number, open?: () => Promise<BlockSource>): PlanImage {
  return { name: 'img', location: '/images/img', declaredSize: bytes, open: open ?? (async () => source(bytes)) };
}

type Run = (step: PlanStep, ctx: JobContext, attempt: number) => Promise<void>;

interface Rig {
  deps: RunnerDeps;
  events: ServerMessage[];
  runs: string[];
  updates: Array<Record<string, unknown>>;
  registry: DeviceRegistry;
  job(steps: LoadedStep[]): ActiveJob;
}

async function rig(run: Run, settings: Partial<Settings> = {}): Promise<Rig> {
  const events: ServerMessage[] = [];
  const runs: string[] = [];
  const updates: Array<Record<string, unknown>> = [];
  let attempt = 0;
  const driver: FakeDriver = {
    describe: async () => ({ info: {}, partitions: [{ name: 'boot', size: 1 << 30 }] }),
    run: async (_l, step, ctx) => {
      runs.push(step.op);
      await run(step, ctx, attempt++);
    },
  };
  const registry = new DeviceRegistry({ emit: () => undefined });
  registry.sink.attach(fakeAttached('D1', driver, link));
  await registry.entry('D1')!.ready;
  const store: JobStore = {
    insert: () => undefined, log: () => undefined, stageStarted: () => undefined, stageEnded: () => undefined,
    update: (_id, fields) => void updates.push(fields),
  };
  const r: Rig = {
    events, runs, updates, registry,
    deps: {
      registry,
      record: new JobRecord(store, 'J', () => undefined),
      emit: (m) => events.push(m),
      settings: () => ({ ...DEFAULT_SETTINGS, retryDelayMs: 1000, ...settings }),
      stationBucket: new TokenBucket(null, systemClock),
      clock: systemClock,
      countBytes: () => undefined,
      hashes: { follow: async () => undefined } as unknown as HashRecords,
    },
    job: (steps) => {
      const spec: JobSpec = { deviceId: 'D1', target: 't', steps, planJson: '{}', release: async () => undefined };
      const job = new ActiveJob('J', spec, null, systemClock);
      return job;
    },
  };
  return r;
}

/** Move `ms` of fake time in 10 ms steps, letting promises run between. */
async function elapse(ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 10) await vi.advanceTimersByTimeAsync(10);
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance', 'setImmediate'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('runJob', () => {
  it('announces the start with the total, paces progress at ≤ 10 frames in any second, ends at 100 and reports completed', async () => {
    const r = await rig(async (step, ctx) => {
      if (step.op !== 'flash') return;
      for (let i = 0; i < 40; i++) {
        await new Promise((res) => setTimeout(res, 25));
        ctx.moved(1024);
      }
    });
    const job = r.job([{ op: 'flash', target: { partition: 'boot' }, image: image(40 * 1024) }, { op: 'reboot' }]);
    const done = runJob(job, r.deps);
    await elapse(1500);
    expect(await done).toEqual({ state: 'completed' });
    expect(r.runs).toEqual(['flash', 'reboot']);
    const started = r.events.filter((e) => e.type === 'flash_started');
    expect(started).toEqual([expect.objectContaining({ totalBytes: 40 * 1024, imageBytes: 40 * 1024 })]);
    const frames = r.events.flatMap((e) => (e.type === 'flash_progress' ? [e] : []));
    expect(frames.at(-1)).toMatchObject({ progress: 100, bytesTransferred: 40 * 1024, estimatedTimeRemaining: 0 });
    for (let i = 1; i < frames.length; i++) {
      // Regular frames 125 ms apart (8/s); the last (100 %) goes once the work is done, still ≤ 10 in any second.
      if (i < frames.length - 1) expect(frames[i]!.timestamp - frames[i - 1]!.timestamp).toBeGreaterThanOrEqual(125);
      expect(frames[i]!.progress).toBeGreaterThanOrEqual(frames[i - 1]!.progress);
    }
    const times = frames.map((f) => f.timestamp);
    for (const end of times) expect(times.filter((t) => t > end - 1000 && t <= end).length).toBeLessThanOrEqual(10);
    // 1 s of transfer: about 10 frames, never 40.
    expect(frames.length).toBeLessThanOrEqual(12);
    expect(r.events.some((e) => e.type === 'flash_completed' || e.type === 'flash_failed')).toBe(false);
    expect(r.updates[0]).toMatchObject({ state: 'running', total_bytes: 40 * 1024 });
  });

  it('an image with a long pass first: announced at once, the pass is the stage with how far it is, then the steps', async () => {
    const r = await rig(async (step, ctx) => {
      if (step.op === 'flash') ctx.moved(4096);
    });
    const slow: PlanImage = {
      name: 'img.bz2', location: '/images/img.bz2',
      open: async (o) => {
        for (let i = 0; i <= 4; i++) {
          o?.onPrepare?.({ stage: 'Checking the bzip2 stream is whole before writing', note: 'bzip2 does not record the size.', bytes: i * 1024, fraction: i / 4 });
          await new Promise((res) => setTimeout(res, 150));
        }
        return source(4096);
      },
    };
    const job = r.job([{ op: 'flash', target: { partition: 'boot' }, image: slow }]);
    const done = runJob(job, r.deps);
    await elapse(200);
    // Visible while the pass runs: running, its stage, nothing sent yet.
    expect(r.events.filter((e) => e.type === 'flash_started')).toEqual([expect.objectContaining({ stage: 'Checking the bzip2 stream is whole before writing', totalBytes: 0 })]);
    expect(job.snapshot()).toMatchObject({ state: 'running', stage: 'Checking the bzip2 stream is whole before writing (25 %)', progress: 0 });
    expect(r.events).toContainEqual(expect.objectContaining({ type: 'flash_log', level: 'info', message: 'bzip2 does not record the size.' }));
    await elapse(1500);
    expect(await done).toEqual({ state: 'completed' });
    const stages = r.events.flatMap((e) => (e.type === 'flash_progress' ? [e.stage] : []));
    expect(stages[0]).toMatch(/^Checking the bzip2 stream is whole before writing \(\d+ %\)$/);
    expect(stages).toContain('Writing boot partition (1/1)');
    expect(r.events.filter((e) => e.type === 'flash_started')).toHaveLength(1);
    expect(r.updates).toContainEqual({ total_bytes: 4096, image_bytes: 4096 });
    // The meter (speeds, the average) counts from the end of the pass (~0.75 s of the 1.7 s), not from the announce.
    expect(job.meter.activeMs()).toBeLessThan(1200);
  });

  it('a cancel during the long pass ends the job cancelled before any step ran', async () => {
    const r = await rig(async () => undefined);
    const slow: PlanImage = {
      name: 'img.bz2', location: '/images/img.bz2',
      open: async (o) => {
        o?.onPrepare?.({ stage: 'Decompressing to learn the size', note: 'n', bytes: 0 });
        await new Promise((_res, rej) => o?.signal?.addEventListener('abort', () => rej(new FlashError('cancelled', 'Cancelled'))));
        return source(1);
      },
    };
    const job = r.job([{ op: 'flash', target: { partition: 'boot' }, image: slow }]);
    const done = runJob(job, r.deps);
    await elapse(50);
    expect(job.state).toBe('running');
    job.abort.abort(new FlashError('cancelled', 'Cancelled'));
    await elapse(50);
    expect(await done).toEqual({ state: 'cancelled' });
    expect(r.runs).toEqual([]);
  });

  it('a broken image fails the job before anything is written or announced', async () => {
    const r = await rig(async () => undefined);
    const bad = image(10, async () => Promise.reject(new FlashError('image_invalid', 'boot.img: bad sparse header')));
    const job = r.job([{ op: 'flash', target: { partition: 'boot' }, image: image(10) }, { op: 'flash', target: { partition: 'system' }, image: bad }]);
    const outcome = await runJob(job, r.deps);
    expect(outcome).toMatchObject({ state: 'failed', error: { code: 'image_invalid' } });
    expect(r.runs).toEqual([]);
    expect(r.events.filter((e) => e.type === 'flash_started')).toEqual([]);
  });

  it('retries a transient fault after the retry delay, without counting its bytes twice', async () => {
    const r = await rig(async (step, ctx, attempt) => {
      ctx.moved(600);
      if (attempt === 0) throw new FlashError('disconnected', 'USB connection lost mid-transfer', { transient: true });
      ctx.moved(400);
    }, { retries: 2, retryDelayMs: 2000 });
    const job = r.job([{ op: 'flash', target: { partition: 'boot' }, image: image(1000) }]);
    const done = runJob(job, r.deps);
    await elapse(1900);
    expect(r.runs).toEqual(['flash']);
    await elapse(2000); // the delay, then the device is taken as back once it stayed attached a second
    expect(await done).toEqual({ state: 'completed' });
    expect(r.runs).toEqual(['flash', 'flash']);
    expect(job.attempts).toBe(2);
    expect(job.bytesTransferred).toBe(1000);
    expect(r.events).toContainEqual(expect.objectContaining({ type: 'flash_log', level: 'warn', message: expect.stringMatching(/USB connection lost.*retrying.*\(1 of 2\)/) }));
  });

  it('does not retry a fault that is not transient', async () => {
    const r = await rig(async () => Promise.reject(new FlashError('device_rejected', 'The device refused "flash:boot": size too large')));
    const job = r.job([{ op: 'flash', target: { partition: 'boot' }, image: image(10) }]);
    const outcome = await runJob(job, r.deps);
    expect(outcome).toMatchObject({ state: 'failed', error: { code: 'device_rejected' } });
    expect(job.attempts).toBe(1);
  });

  it('a cancel ends the job as cancelled, with what the driver says it left behind as detail', async () => {
    const r = await rig(async (_step, ctx) => {
      ctx.moved(100);
      await new Promise<void>((_res, rej) => ctx.signal.addEventListener('abort', () => rej(new FlashError('cancelled', 'Cancelled — the download of boot was left half-sent at byte 100'))));
    });
    const job = r.job([{ op: 'flash', target: { partition: 'boot' }, image: image(1000) }]);
    const done = runJob(job, r.deps);
    await elapse(50);
    job.abort.abort(new FlashError('cancelled', 'Cancelled'));
    expect(await done).toEqual({ state: 'cancelled', detail: 'Cancelled — the download of boot was left half-sent at byte 100' });
  });

  it('a cancel with a reason of its own is logged, and a plain cancel carries no detail', async () => {
    const r = await rig(async (_step, ctx) => new Promise<void>((_res, rej) => ctx.signal.addEventListener('abort', () => rej(ctx.signal.reason as Error))));
    const job = r.job([{ op: 'flash', target: { partition: 'boot' }, image: image(1000) }]);
    const done = runJob(job, r.deps);
    await elapse(20);
    job.abort.abort(new FlashError('shutting_down', 'The station is shutting down'));
    expect(await done).toEqual({ state: 'cancelled' });
    expect(r.events).toContainEqual(expect.objectContaining({ type: 'flash_log', level: 'info', message: 'Cancelled: The station is shutting down' }));
  });

  it('a driver that says nothing of what it left: after bytes were sent, the job says the device may hold part', async () => {
    const r = await rig(async (_step, ctx) => {
      ctx.moved(300);
      await new Promise<void>((_res, rej) => ctx.signal.addEventListener('abort', () => rej(ctx.signal.reason as Error)));
    });
    const job = r.job([{ op: 'flash', target: { partition: 'boot' }, image: image(1000) }]);
    const done = runJob(job, r.deps);
    await elapse(50);
    job.abort.abort(new FlashError('cancelled', 'Cancelled'));
    expect(await done).toEqual({ state: 'cancelled', detail: expect.stringMatching(/^Cancelled after 300 B of 1000 B had been sent: the device may hold part of the image/) });
  });

  it('a driver\'s plain "Cancelled" with a detail (what a disk holds) keeps that detail', async () => {
    const r = await rig(async (_step, ctx) => {
      ctx.moved(100);
      await new Promise<void>((_res, rej) => ctx.signal.addEventListener('abort', () => rej(new FlashError('cancelled', 'Cancelled', { detail: 'the disk holds no partition table' }))));
    });
    const job = r.job([{ op: 'flash', target: { partition: 'boot' }, image: image(1000) }]);
    const done = runJob(job, r.deps);
    await elapse(50);
    job.abort.abort(new FlashError('cancelled', 'Cancelled'));
    expect(await done).toEqual({ state: 'cancelled', detail: 'Cancelled: the disk holds no partition table' });
  });

  it('a driver that ignores a cancel: its connection is closed after 1.5 s and the job ends cancelled 0.4 s later', async () => {
    const r = await rig(async () => new Promise<void>(() => undefined));
    const closed = vi.spyOn(link, 'close');
    const job = r.job([{ op: 'flash', target: { partition: 'boot' }, image: image(1000) }]);
    let outcome: unknown;
    void runJob(job, r.deps).then((o) => (outcome = o));
    await elapse(20);
    job.abort.abort(new FlashError('cancelled', 'Cancelled'));
    await elapse(1490);
    expect(closed).not.toHaveBeenCalled();
    await elapse(20);
    expect(closed).toHaveBeenCalledTimes(1);
    expect(outcome).toBeUndefined();
    await elapse(400);
    expect(outcome).toEqual({ state: 'cancelled', detail: expect.stringMatching(/did not stop within 2 s.*connection was closed/) });
    closed.mockRestore();
  });

  it('a device gone before the job started is a failure naming it, never a throw', async () => {
    const r = await rig(async () => undefined);
    r.registry.sink.detach('D1');
    const outcome = await runJob(r.job([{ op: 'flash', target: { partition: 'boot' }, image: image(10) }]), r.deps);
    expect(outcome).toMatchObject({ state: 'failed', error: { code: 'device_not_found', message: expect.stringContaining('D1') } });
  });
});
