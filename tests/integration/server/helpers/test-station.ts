// A small StationApi for server tests until/besides the real core: jobs copy a real image file into a partition file
// chunk by chunk, so every progress event reports bytes that really moved. Pause, cancel, throttle and history work.
import { open, stat, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { FlashError } from '../../../../src/core/errors.js';
import type { StartFlashRequest, StartFlashResult, StationApi, StationListener, StationSettings } from '../../../../src/core/station-api.js';
import type { Device, FlashEventMessage, Job, ServerMessage } from '../../../../src/protocol/messages.js';

interface RunningJob {
  job: Job;
  abort: AbortController;
  paused: boolean;
  resume?: () => void;
  limit: number | null;
}

const CHUNK = 64 * 1024;

export function createTestStation(options: { dir: string; devices?: string[]; bytesPerSecond?: number | null }): StationApi & { emit(m: ServerMessage): void } {
  const listeners = new Set<StationListener>();
  const devices = new Map<string, Device>();
  for (const id of options.devices ?? ['TEST0001', 'TEST0002']) {
    devices.set(id, { id, protocol: 'fastboot', transport: 'sim', name: `Test ${id}`, serial: id, state: 'idle', partitions: [{ name: 'boot', size: 64 << 20 }], info: { product: 'test' } });
  }
  const jobs = new Map<string, RunningJob>();
  const external = new Map<string, Job>();
  const ended: Job[] = [];
  let seq = 0;
  let bytesFlashed = 0;
  let stationLimit: number | null = options.bytesPerSecond ?? null;
  const emit = (m: ServerMessage): void => { for (const l of listeners) l(m); };

  async function run(r: RunningJob, image: string, partition: string): Promise<void> {
    const { job } = r;
    const dev = devices.get(job.deviceId)!;
    const out = join(options.dir, `${job.deviceId}-${partition}.img`);
    const src = await open(image, 'r');
    const dst = await open(out, 'w');
    const started = performance.now();
    let lastEmit = 0;
    try {
      job.state = 'running';
      job.startedAt = Date.now();
      job.stage = `Writing ${partition} partition`;
      emit({ type: 'flash_started', jobId: job.jobId, deviceId: job.deviceId, stage: job.stage, totalBytes: job.totalBytes, timestamp: Date.now() });
      const buf = Buffer.alloc(CHUNK);
      for (;;) {
        if (r.abort.signal.aborted) throw new FlashError('cancelled', 'Cancelled');
        if (r.paused) await new Promise<void>((res) => { r.resume = res; });
        if (r.abort.signal.aborted) throw new FlashError('cancelled', 'Cancelled');
        const { bytesRead } = await src.read(buf, 0, CHUNK, job.bytesTransferred);
        if (bytesRead === 0) break;
        await dst.write(buf, 0, bytesRead, job.bytesTransferred);
        job.bytesTransferred += bytesRead;
        bytesFlashed += bytesRead;
        const limit = r.limit ?? stationLimit;
        const elapsed = (performance.now() - started) / 1000;
        if (limit) {
          const due = job.bytesTransferred / limit - elapsed;
          if (due > 0) await new Promise((res) => setTimeout(res, due * 1000));
        }
        const now = performance.now();
        const secs = Math.max((now - started) / 1000, 0.001);
        job.transferSpeed = job.bytesTransferred / secs;
        job.progress = job.totalBytes ? (job.bytesTransferred / job.totalBytes) * 100 : 100;
        job.estimatedTimeRemaining = job.transferSpeed ? (job.totalBytes - job.bytesTransferred) / job.transferSpeed : 0;
        if (now - lastEmit >= 100 || job.bytesTransferred === job.totalBytes) {
          lastEmit = now;
          emit({ type: 'flash_progress', jobId: job.jobId, deviceId: job.deviceId, progress: job.progress, stage: job.stage, bytesTransferred: job.bytesTransferred,
            totalBytes: job.totalBytes, transferSpeed: job.transferSpeed, estimatedTimeRemaining: job.estimatedTimeRemaining, timestamp: Date.now() });
        }
      }
      job.state = 'completed';
      job.endedAt = Date.now();
      emit({ type: 'flash_completed', jobId: job.jobId, deviceId: job.deviceId, timestamp: Date.now() });
    } catch (e) {
      const cancelled = r.abort.signal.aborted;
      job.state = cancelled ? 'cancelled' : 'failed';
      job.error = cancelled ? 'Cancelled' : (e as Error).message;
      job.endedAt = Date.now();
      emit({ type: 'flash_failed', jobId: job.jobId, deviceId: job.deviceId, error: job.error, timestamp: Date.now(), ...(cancelled ? { reason: 'cancelled' as const } : {}) });
    } finally {
      await src.close();
      await dst.close();
      dev.state = 'idle';
      emit({ type: 'device_updated', device: { ...dev }, timestamp: Date.now() });
      jobs.delete(job.jobId);
      ended.unshift({ ...job });
    }
  }

  function active(jobId: string): RunningJob {
    const r = jobs.get(jobId);
    if (!r) throw new FlashError('job_not_found', `No active job ${jobId}.`);
    return r;
  }

  const settings: StationSettings = { slotLimit: 8, retries: 0, retryDelayMs: 0, deviceWaitMs: 0, jobBytesPerSecond: null, stationBytesPerSecond: null, autoFlash: { enabled: false, rules: [], replugMs: 0 } };

  const api: StationApi & { emit(m: ServerMessage): void } = {
    version: '0.0.0-test',
    emit,
    devices: () => [...devices.values()].map((d) => ({ ...d })),
    jobs: () => [...[...jobs.values()].map((r) => ({ ...r.job })), ...external.values(), ...ended.slice(0, 20)],
    job: (id) => jobs.get(id)?.job ?? external.get(id) ?? ended.find((j) => j.jobId === id),
    async startFlash(req: StartFlashRequest): Promise<StartFlashResult> {
      const deviceId = req.deviceId ?? req.deviceIds?.[0] ?? '';
      const dev = devices.get(deviceId);
      if (!dev) throw new FlashError('device_not_found', `No device ${deviceId}: see GET /api/devices.`);
      if (!req.image || !req.partition) throw new FlashError('bad_request', 'This test station flashes one partition from one image.');
      const info = await stat(req.image).catch(() => undefined);
      if (!info) throw new FlashError('image_not_found', `Image ${req.image} does not exist.`);
      if (!info.isFile()) throw new FlashError('image_unreadable', `Image ${req.image} is not a regular file.`);
      if (dev.state === 'busy') throw new FlashError('device_busy', `Device ${deviceId} is busy with another job.`);
      dev.state = 'busy';
      await mkdir(options.dir, { recursive: true });
      const jobId = `job_${++seq}`;
      const job: Job = { jobId, deviceId, state: 'queued', stage: 'Queued', progress: 0, bytesTransferred: 0, totalBytes: info.size, transferSpeed: 0, estimatedTimeRemaining: 0, createdAt: Date.now() };
      const r: RunningJob = { job, abort: new AbortController(), paused: false, limit: null };
      jobs.set(jobId, r);
      emit({ type: 'device_updated', device: { ...dev }, timestamp: Date.now() });
      void run(r, req.image, req.partition);
      return { jobId, jobIds: [jobId], status: 'started' };
    },
    pause(id) {
      const r = active(id);
      if (r.job.state !== 'running') throw new FlashError('invalid_state', `Job ${id} is ${r.job.state}.`);
      r.paused = true;
      r.job.state = 'paused';
      emit({ type: 'flash_paused', jobId: id, deviceId: r.job.deviceId, timestamp: Date.now() });
      return { ...r.job };
    },
    resume(id) {
      const r = active(id);
      if (r.job.state !== 'paused') throw new FlashError('invalid_state', `Job ${id} is ${r.job.state}.`);
      r.paused = false;
      r.job.state = 'running';
      emit({ type: 'flash_resumed', jobId: id, deviceId: r.job.deviceId, timestamp: Date.now() });
      r.resume?.();
      return { ...r.job };
    },
    cancel(id) {
      const r = active(id);
      r.abort.abort();
      r.resume?.();
      return { ...r.job };
    },
    setLimits(jobId, bps) {
      if (jobId === undefined) stationLimit = bps;
      else active(jobId).limit = bps;
    },
    history: (q) => ended.filter((j) => !q.deviceId || j.deviceId === q.deviceId).slice(0, q.limit ?? 100),
    publishExternal(m: FlashEventMessage) {
      if (jobs.has(m.jobId)) throw new FlashError('forbidden', `Job ${m.jobId} is run by the station; outside agents may publish only their own jobs.`);
      const prev = external.get(m.jobId);
      const job: Job = prev ?? { jobId: m.jobId, deviceId: m.deviceId, state: 'running', stage: '', progress: 0, bytesTransferred: 0, totalBytes: 0, transferSpeed: 0, estimatedTimeRemaining: 0, createdAt: m.timestamp };
      if (m.type === 'flash_progress') Object.assign(job, { progress: m.progress, stage: m.stage, bytesTransferred: m.bytesTransferred, totalBytes: m.totalBytes, transferSpeed: m.transferSpeed, estimatedTimeRemaining: m.estimatedTimeRemaining });
      if (m.type === 'flash_started') job.totalBytes = m.totalBytes;
      if (m.type === 'flash_completed') job.state = 'completed';
      if (m.type === 'flash_failed') job.state = 'failed';
      external.set(m.jobId, job);
      emit(m);
    },
    subscribe(l) { listeners.add(l); return () => listeners.delete(l); },
    stats() {
      const jobsByState: Record<string, number> = {};
      for (const j of api.jobs()) jobsByState[j.state] = (jobsByState[j.state] ?? 0) + 1;
      return { jobsByState, bytesFlashed, devices: devices.size };
    },
    async close() { for (const r of jobs.values()) { r.abort.abort(); r.resume?.(); } },
    pauseAll: () => [...jobs.keys()].filter((id) => jobs.get(id)?.job.state === 'running').map((id) => api.pause(id)),
    resumeAll: () => [...jobs.keys()].filter((id) => jobs.get(id)?.job.state === 'paused').map((id) => api.resume(id)),
    cancelAll: () => [...jobs.keys()].map((id) => api.cancel(id)),
    batch: () => undefined,
    batches: () => [],
    analytics: () => [],
    exportCsv: () => ['jobId,deviceId,state\n', ended.map((j) => `${j.jobId},${j.deviceId},${j.state}`).join('\n')],
    getSettings: () => settings,
    updateSettings: (patch) => Object.assign(settings, patch),
  };
  return api;
}
