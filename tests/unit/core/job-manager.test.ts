// JobManager over a real registry and history, a fake driver and fake timers: start, queue, pause/resume, cancel
// (queued and running), device-wait expiry, the store failing, and close — each job ends once, its device freed.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DeviceLink } from '../../../src/contracts/links.js';
import type { BlockSource } from '../../../src/contracts/source.js';
import { systemClock } from '../../../src/core/clock.js';
import { FlashError } from '../../../src/core/errors.js';
import { History } from '../../../src/core/history.js';
import type { ImageBackend } from '../../../src/core/image-backend.js';
import { JobManager } from '../../../src/core/job-manager.js';
import { DEFAULT_SETTINGS, type Settings } from '../../../src/core/settings.js';
import type { Family, JobContext } from '../../../src/contracts/family.js';
import { DeviceRegistry } from '../../../src/devices/registry.js';
import type { ServerMessage } from '../../../src/protocol/messages.js';

const link: DeviceLink = { open: async () => Promise.reject(new Error('unused')), close: async () => undefined };

function source(bytes: number): BlockSource {
  return {
    size: bytes, dataBytes: bytes, exact: true, description: 'img', blockSize: 4096, reopenable: true,
    chunks: async function* () { /* the fake driver moves the bytes */ }, sha256: async () => 'cd'.repeat(32), hashStarted: true,
  };
}

const images: ImageBackend = {
  openImage: async () => source(4000),
  loadPlan: async () => Promise.reject(new FlashError('bad_request', 'no plans in this test')),
  shareSource: () => {
    throw new Error('no sharing');
  },
};

/** How long the fake driver takes per flash step (fake time), and a hook to stall it. */
interface DriverControl {
  stepMs: number;
  stall: boolean;
}

interface Rig {
  jobs: JobManager;
  history: History;
  registry: DeviceRegistry;
  events: ServerMessage[];
  image: string;
  control: DriverControl;
  finals(jobId: string): ServerMessage[];
  attach(id: string): Promise<void>;
}

const dirs: string[] = [];
const managers: JobManager[] = [];

async function rig(settings: Partial<Settings> = {}): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'fs-jm-'));
  dirs.push(dir);
  const image = join(dir, 'boot.img');
  writeFileSync(image, Buffer.alloc(4000, 1));
  const control: DriverControl = { stepMs: 500, stall: false };
  const driver: Family = {
    protocol: 'fastboot',
    title: 'Test',
    targets: ['partition'],
    match: () => 1,
    connect: () => link,
    probe: async () => ({ info: {}, partitions: [{ name: 'boot', size: 1 << 20 }] }),
    run: async (_l, _step, ctx: JobContext) => {
      for (let t = 0; t < control.stepMs || control.stall; t += 100) {
        await ctx.gate.pass();
        await new Promise<void>((res, rej) => {
          const timer = setTimeout(res, 100);
          ctx.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            rej(new FlashError('cancelled', 'Cancelled'));
          }, { once: true });
        });
        ctx.moved(800);
      }
    },
  };
  const registry = new DeviceRegistry({ emit: () => undefined });
  const history = new History(dir);
  const events: ServerMessage[] = [];
  const jobs = new JobManager({
    registry, history, images, emit: (m) => events.push(m), settings: () => ({ ...DEFAULT_SETTINGS, ...settings }), clock: systemClock,
    hashes: { startedWaitMs: 100, unstartedWaitMs: 10, closeWaitMs: 100 },
  });
  managers.push(jobs);
  const attach = async (id: string): Promise<void> => {
    const candidate = { kind: 'network', key: `k:${id}`, transport: 'tcp', scheme: 'tcp', host: id } as const;
    registry.sink.attach({ device: { id, protocol: 'fastboot', transport: 'sim', name: id, serial: id, info: {} }, family: driver, link, candidate });
    await registry.entry(id)!.ready;
  };
  return {
    jobs, history, registry, events, image, control, attach,
    finals: (jobId) => events.filter((e) => (e.type === 'flash_completed' || e.type === 'flash_failed') && e.jobId === jobId),
  };
}

async function elapse(ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 50) await vi.advanceTimersByTimeAsync(50);
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] });
});
afterEach(async () => {
  for (const m of managers.splice(0)) {
    const closing = m.close();
    await elapse(200);
    await closing;
  }
  vi.useRealTimers();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('JobManager', () => {
  it('runs a job to flash_completed, records it, frees the device and counts the port', async () => {
    const r = await rig();
    await r.attach('A');
    const started = await r.jobs.start({ deviceId: 'A', partition: 'boot', image: r.image });
    expect(started.status).toBe('started');
    expect(r.registry.lockedBy('A')).toBe(started.jobId);
    await elapse(1000);
    expect(r.finals(started.jobId).map((e) => e.type)).toEqual(['flash_completed']);
    expect(r.jobs.get(started.jobId)).toMatchObject({ state: 'completed', progress: 100, bytesTransferred: 4000 });
    expect(r.history.row(started.jobId)).toMatchObject({ state: 'completed', result: 'completed', bytes_transferred: 4000 });
    expect(r.registry.lockedBy('A')).toBeUndefined();
    expect(r.jobs.portCounters()).toEqual([{ port: 'A', succeeded: 1, failed: 0 }]);
  });

  it('queues a second job for the same device and starts it when the first ends', async () => {
    const r = await rig();
    await r.attach('A');
    const first = await r.jobs.start({ deviceId: 'A', partition: 'boot', image: r.image });
    const second = await r.jobs.start({ deviceId: 'A', partition: 'boot', image: r.image });
    expect(second.status).toBe('queued');
    expect(r.events).toContainEqual(expect.objectContaining({ type: 'flash_queued', jobId: second.jobId, position: 1 }));
    expect(r.jobs.get(second.jobId)).toMatchObject({ state: 'queued', queuePosition: 1 });
    await elapse(600);
    expect(r.finals(first.jobId)).toHaveLength(1);
    expect(r.registry.lockedBy('A')).toBe(second.jobId);
    await elapse(600);
    expect(r.finals(second.jobId).map((e) => e.type)).toEqual(['flash_completed']);
  });

  it('cancels a queued job at once: one flash_failed with reason cancelled, and it never runs', async () => {
    const r = await rig();
    await r.attach('A');
    const first = await r.jobs.start({ deviceId: 'A', partition: 'boot', image: r.image });
    const second = await r.jobs.start({ deviceId: 'A', partition: 'boot', image: r.image });
    expect(r.jobs.cancel(second.jobId)).toMatchObject({ state: 'cancelled', error: 'Cancelled', errorCode: 'cancelled' });
    expect(r.finals(second.jobId)).toEqual([expect.objectContaining({ error: 'Cancelled', reason: 'cancelled', code: 'cancelled' })]);
    expect(r.history.row(second.jobId)).toMatchObject({ state: 'cancelled', error_code: 'cancelled' });
    expect(() => r.jobs.cancel(second.jobId)).toThrow(expect.objectContaining({ code: 'invalid_state' }));
    await elapse(1000);
    expect(r.finals(first.jobId).map((e) => e.type)).toEqual(['flash_completed']);
    expect(r.events.filter((e) => e.type === 'flash_started' && e.jobId === second.jobId)).toEqual([]);
  });

  it('cancels a running job: it ends cancelled once, its device is freed and the next job starts', async () => {
    const r = await rig();
    await r.attach('A');
    r.control.stall = true;
    const first = await r.jobs.start({ deviceId: 'A', partition: 'boot', image: r.image });
    const second = await r.jobs.start({ deviceId: 'A', partition: 'boot', image: r.image });
    await elapse(300);
    r.jobs.cancel(first.jobId);
    r.control.stall = false;
    await elapse(200);
    expect(r.finals(first.jobId)).toEqual([expect.objectContaining({ type: 'flash_failed', reason: 'cancelled' })]);
    expect(r.registry.lockedBy('A')).toBe(second.jobId);
    // A cancelled job does not count against the port.
    expect(r.jobs.portCounters()).toEqual([]);
    await elapse(700);
    expect(r.finals(second.jobId).map((e) => e.type)).toEqual(['flash_completed']);
  });

  it('pauses and resumes a running job between transfers; a queued job cannot be paused', async () => {
    const r = await rig();
    await r.attach('A');
    const first = await r.jobs.start({ deviceId: 'A', partition: 'boot', image: r.image });
    const second = await r.jobs.start({ deviceId: 'A', partition: 'boot', image: r.image });
    await elapse(200);
    expect(r.jobs.pause(first.jobId).state).toBe('paused');
    expect(() => r.jobs.pause(second.jobId)).toThrow(expect.objectContaining({ code: 'invalid_state' }));
    await elapse(200); // the transfer in flight finishes; the driver then waits at the gate
    const bytes = r.jobs.get(first.jobId)!.bytesTransferred;
    await elapse(2000);
    expect(r.jobs.get(first.jobId)).toMatchObject({ state: 'paused', bytesTransferred: bytes });
    expect(r.history.row(first.jobId)?.state).toBe('paused');
    expect(r.jobs.resume(first.jobId).state).toBe('running');
    await elapse(600);
    expect(r.finals(first.jobId).map((e) => e.type)).toEqual(['flash_completed']);
    expect(r.events.map((e) => e.type).filter((t) => t === 'flash_paused' || t === 'flash_resumed')).toEqual(['flash_paused', 'flash_resumed']);
  });

  it('a job waiting for a device that never comes fails with device_not_found at the deadline', async () => {
    const r = await rig();
    const started = await r.jobs.start({ deviceId: 'LATE', partition: 'boot', image: r.image, waitForDeviceMs: 5000 });
    expect(started.status).toBe('queued');
    await elapse(4900);
    expect(r.finals(started.jobId)).toEqual([]);
    await elapse(200);
    expect(r.finals(started.jobId)).toEqual([expect.objectContaining({ type: 'flash_failed', reason: 'error', code: 'device_not_found' })]);
    expect(r.history.row(started.jobId)).toMatchObject({ state: 'failed', error_code: 'device_not_found' });
  });

  it('a history store that throws on every write: jobs still end with their final event', async () => {
    const r = await rig();
    await r.attach('A');
    const full = (): never => {
      throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    };
    for (const m of ['insert', 'update', 'log', 'stageStarted', 'stageEnded'] as const) vi.spyOn(r.history, m).mockImplementation(full);
    const ok = await r.jobs.start({ deviceId: 'A', partition: 'boot', image: r.image });
    await elapse(1000);
    expect(r.finals(ok.jobId).map((e) => e.type)).toEqual(['flash_completed']);
    expect(r.events).toContainEqual(expect.objectContaining({ type: 'flash_log', jobId: ok.jobId, level: 'warn', message: expect.stringMatching(/disk is full/) }));
    expect(r.registry.lockedBy('A')).toBeUndefined();
    const queued = await r.jobs.start({ deviceId: 'GONE', partition: 'boot', image: r.image, waitForDeviceMs: 100 });
    await elapse(300);
    expect(r.finals(queued.jobId).map((e) => e.type)).toEqual(['flash_failed']);
  });

  it('close cancels every active job, queued ones first, and refuses new ones', async () => {
    const r = await rig();
    await r.attach('A');
    r.control.stall = true;
    const running = await r.jobs.start({ deviceId: 'A', partition: 'boot', image: r.image });
    const queued = await r.jobs.start({ deviceId: 'A', partition: 'boot', image: r.image });
    await elapse(200);
    const closing = r.jobs.close();
    await elapse(500);
    await closing;
    const order = r.events.filter((e) => e.type === 'flash_failed').map((e) => (e as { jobId: string }).jobId);
    expect(order).toEqual([queued.jobId, running.jobId]);
    await expect(r.jobs.start({ deviceId: 'A', partition: 'boot', image: r.image })).rejects.toMatchObject({ code: 'shutting_down' });
  });
});
