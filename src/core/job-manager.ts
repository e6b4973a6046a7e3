// JobManager: creates validated jobs, queues and starts them, pauses/resumes/cancels them, and tidies up when they end.
import { randomUUID } from 'node:crypto';
import type { DeviceRegistry } from '../devices/registry.js';
import type { Job, ServerMessage } from '../protocol/messages.js';
import { Batches } from './batches.js';
import type { Clock } from './clock.js';
import { FlashError, toFlashError } from './errors.js';
import { HashRecords, type HashRecordsOptions } from './hash-records.js';
import { rowToJob, type History } from './history.js';
import type { ImageBackend } from './image-backend.js';
import { ActiveJob } from './job.js';
import { JobLifecycle, type JobOutcome } from './job-lifecycle.js';
import { resolveRequest } from './job-request.js';
import type { JobSpec } from './job-spec.js';
import { runJob } from './job-runner.js';
import { Scheduler, type Queued } from './scheduler.js';
import type { Settings } from './settings.js';
import type { BatchSummary, PortCounter, StartFlashRequest, StartFlashResult } from './station-api.js';
import { TokenBucket } from './token-bucket.js';

export interface JobManagerDeps {
  registry: DeviceRegistry;
  history: History;
  images: ImageBackend;
  /** Properties, not methods: they are handed on unbound (to the runner, the lifecycle, the hash records). */
  emit: (message: ServerMessage) => void;
  settings: () => Settings;
  clock: Clock;
  /** How long record hashes are followed after their job (and, `closeWaitMs`, on close: default 15 s). */
  hashes?: HashRecordsOptions & { closeWaitMs?: number };
  /** Where images that must be decoded before writing are spooled (DATA_DIR/spool); without it they decode at request time. */
  spoolDir?: string;
}

/** On close, how long the hashes of completed jobs still underway are awaited before history records them as missing. */
const HASH_CLOSE_WAIT_MS = 15_000;

export interface StartOptions {
  ruleId?: string;
}

export class JobManager {
  private readonly jobs = new Map<string, ActiveJob>();
  private readonly finishedOrder: string[] = [];
  private readonly batches = new Batches();
  /** Batches being placed by `start()`: their summary is sent once, after. */
  private readonly quietBatches = new Set<string>();
  private readonly counters = new Map<string, PortCounter>();
  private readonly scheduler: Scheduler;
  /** Where every job's record starts and where every job ends (final event, history, device freed). */
  private readonly lifecycle: JobLifecycle;
  readonly stationBucket: TokenBucket;
  /** Completed jobs' image hashes still being computed. */
  readonly hashes: HashRecords;
  private closing = false;
  bytesFlashed = 0;

  constructor(private readonly deps: JobManagerDeps) {
    this.stationBucket = new TokenBucket(deps.settings().stationBytesPerSecond, deps.clock);
    this.hashes = new HashRecords(deps.history, deps.emit, deps.hashes);
    this.scheduler = new Scheduler(deps.registry, () => deps.settings().slotLimit, {
      start: (item) => this.run(item),
      queued: (item, position) => this.queuedAt(item, position),
      expired: (item) => this.expire(item),
    });
    this.lifecycle = new JobLifecycle({
      store: deps.history,
      emit: deps.emit,
      free: (job, lockedId) => {
        deps.registry.unlock(lockedId, job.jobId);
        this.scheduler.finished(job.jobId);
      },
      ended: (job, ran) => this.ended(job, ran),
    });
    // Per-port counters carry over restarts: a socket that keeps failing shows it.
    for (const c of deps.history.portCounts()) this.counters.set(c.port, c);
    deps.registry.on((event, id) => {
      if (event === 'attached') this.showCounters(id);
      if (event !== 'detached') this.scheduler.pump();
    });
  }

  list(): Job[] {
    return [...this.jobs.values()].map((j) => this.view(j));
  }

  get(jobId: string): Job | undefined {
    const job = this.jobs.get(jobId);
    return job ? this.view(job) : undefined;
  }

  /** A job as clients see it: its snapshot, with its place in the queue while it waits. */
  private view(job: ActiveJob): Job {
    const s = job.snapshot();
    const position = s.state === 'queued' ? this.scheduler.positionOf(job.jobId) : undefined;
    if (position !== undefined) s.queuePosition = position;
    return s;
  }

  has(jobId: string): boolean {
    return this.jobs.has(jobId);
  }

  activeJobFor(deviceId: string): ActiveJob | undefined {
    for (const j of this.jobs.values()) if (j.active && j.deviceId === deviceId) return j;
    return undefined;
  }

  portCounters(): PortCounter[] {
    return [...this.counters.values()].map((c) => ({ ...c }));
  }

  batch(batchId: string): BatchSummary | undefined {
    return this.batches.summary(batchId, (id) => {
      const job = this.jobOrHistory(id);
      // A job that holds a slot is running even while it still opens its images (its state says queued until then).
      return job?.state === 'queued' && this.scheduler.isRunning(id) ? { ...job, state: 'running' } : job;
    });
  }

  batchList(): BatchSummary[] {
    return this.batches.ids().map((id) => this.batch(id) as BatchSummary);
  }

  async start(req: StartFlashRequest, options: StartOptions = {}): Promise<StartFlashResult> {
    if (this.closing) throw new FlashError('shutting_down', 'The station is shutting down and takes no new jobs.');
    if (typeof req !== 'object' || req === null) throw new FlashError('bad_request', 'The request must be an object.');
    const { specs, waitMs } = await resolveRequest(req, {
      registry: this.deps.registry,
      images: this.deps.images,
      deviceWaitMs: this.deps.settings().deviceWaitMs,
      startableNow: (ids) => this.scheduler.startableNow(ids),
      ...(this.deps.spoolDir ? { spoolDir: this.deps.spoolDir } : {}),
    });
    if (this.closing) {
      await Promise.all(specs.map((s) => s.release()));
      throw new FlashError('shutting_down', 'The station is shutting down and takes no new jobs.');
    }
    const batchId = specs.length > 1 || req.deviceIds !== undefined || req.selector !== undefined ? randomUUID() : undefined;
    const jobs = specs.map((spec) => this.create(spec, batchId, options.ruleId));
    if (batchId) this.batches.create(batchId, jobs.map((j) => j.jobId));
    const deadline = waitMs > 0 ? Date.now() + waitMs : undefined;
    // One summary once every job of the batch is placed (started or queued), not one per job as they start.
    if (batchId) this.quietBatches.add(batchId);
    try {
      for (const job of jobs) {
        this.scheduler.add({ jobId: job.jobId, deviceId: job.deviceId, ...(deadline ? { deadline } : {}) });
        // Things changed since the request was checked (another request took the device or a slot): a queued job must
        // not hold a share of a decode the running ones are reading.
        if (this.scheduler.isQueued(job.jobId)) job.spec.discardPreopened?.();
      }
    } finally {
      if (batchId) this.quietBatches.delete(batchId);
    }
    if (batchId) this.emitBatch(batchId);
    const first = jobs[0] as ActiveJob;
    const result: StartFlashResult = {
      jobId: first.jobId,
      jobIds: jobs.map((j) => j.jobId),
      status: this.scheduler.isQueued(first.jobId) ? 'queued' : 'started',
    };
    if (batchId) result.batchId = batchId;
    return result;
  }

  private create(spec: JobSpec, batchId: string | undefined, ruleId: string | undefined): ActiveJob {
    if (batchId) spec.batchId = batchId;
    if (ruleId) spec.ruleId = ruleId;
    const job = new ActiveJob(randomUUID(), spec, this.deps.settings().jobBytesPerSecond, this.deps.clock);
    this.jobs.set(job.jobId, job);
    const device = this.deps.registry.get(spec.deviceId);
    this.lifecycle.record(job).insert({
      job_id: job.jobId, device_id: job.deviceId, device_serial: device?.serial ?? null, device_name: device?.name ?? null,
      protocol: device?.protocol ?? null, transport: device?.transport ?? null, port: device?.port ?? null,
      state: 'queued', stage: job.stage, target: spec.target, batch_id: batchId ?? null, image_path: spec.imagePath ?? null,
      image_size: spec.imageFileSize ?? null, plan_json: spec.planJson, image_bytes: spec.imageBytes ?? null,
      created_at: job.createdAt,
    });
    return job;
  }

  pause(jobId: string): Job {
    const job = this.need(jobId);
    if (job.state === 'paused') return job.snapshot();
    if (job.state !== 'running') throw new FlashError('invalid_state', `Job ${jobId} is ${job.state}; only a running job can be paused.`);
    job.gate.close();
    job.meter.pause();
    job.state = 'paused';
    this.lifecycle.record(job).update({ state: 'paused' });
    this.deps.emit({ type: 'flash_paused', jobId, deviceId: job.deviceId, timestamp: Date.now() });
    if (job.spec.batchId) this.emitBatch(job.spec.batchId);
    return job.snapshot();
  }

  resume(jobId: string): Job {
    const job = this.need(jobId);
    if (job.state === 'running') return job.snapshot();
    if (job.state !== 'paused') throw new FlashError('invalid_state', `Job ${jobId} is ${job.state}; only a paused job can be resumed.`);
    job.state = 'running';
    job.meter.resume();
    job.gate.open();
    this.lifecycle.record(job).update({ state: 'running' });
    this.deps.emit({ type: 'flash_resumed', jobId, deviceId: job.deviceId, timestamp: Date.now() });
    if (job.spec.batchId) this.emitBatch(job.spec.batchId);
    return job.snapshot();
  }

  cancel(jobId: string, why = 'Cancelled'): Job {
    const job = this.need(jobId);
    if (!job.active) throw new FlashError('invalid_state', `Job ${jobId} has already ${job.state === 'completed' ? 'completed' : 'ended'}.`);
    if (job.state === 'queued' && this.scheduler.remove(jobId)) {
      this.lifecycle.end(job, { state: 'cancelled' }, { ran: false });
      return job.snapshot();
    }
    job.abort.abort(new FlashError('cancelled', why));
    return job.snapshot();
  }

  pauseAll(): Job[] {
    return [...this.jobs.values()].filter((j) => j.state === 'running').map((j) => this.pause(j.jobId));
  }

  resumeAll(): Job[] {
    return [...this.jobs.values()].filter((j) => j.state === 'paused').map((j) => this.resume(j.jobId));
  }

  cancelAll(why = 'Cancelled'): Job[] {
    // Queued first, so none of them grabs a slot a cancelled running job frees.
    const active = [...this.jobs.values()].filter((j) => j.active);
    const queued = active.filter((j) => j.state === 'queued');
    const rest = active.filter((j) => j.state !== 'queued');
    return [...queued, ...rest].map((j) => this.cancel(j.jobId, why));
  }

  setLimits(jobId: string | undefined, bytesPerSecond: number | null): void {
    if (bytesPerSecond !== null && (typeof bytesPerSecond !== 'number' || !Number.isFinite(bytesPerSecond) || bytesPerSecond < 1)) {
      throw new FlashError('bad_request', '`bytesPerSecond` must be null (unlimited) or a number ≥ 1.');
    }
    if (jobId === undefined) {
      this.stationBucket.setRate(bytesPerSecond);
      return;
    }
    const job = this.need(jobId);
    if (!job.active) throw new FlashError('invalid_state', `Job ${jobId} has ended; limits apply to active jobs.`);
    job.bucket.setRate(bytesPerSecond);
  }

  /** Slot limit or device wait changed. */
  settingsChanged(): void {
    this.scheduler.pump();
  }

  async close(): Promise<void> {
    this.closing = true;
    this.cancelAll('The station is shutting down');
    const active = [...this.jobs.values()].filter((j) => j.active).map((j) => j.done);
    const timeout = new Promise((r) => setTimeout(r, 10_000).unref());
    await Promise.race([Promise.all(active), timeout]);
    // Hashes of completed jobs still underway: a bounded wait, then history says which were not recorded.
    await this.hashes.close(this.deps.hashes?.closeWaitMs ?? HASH_CLOSE_WAIT_MS);
    this.stationBucket.dispose();
  }

  private jobOrHistory(id: string): Job | undefined {
    const live = this.get(id);
    if (live) return live;
    const row = this.deps.history.row(id);
    return row ? rowToJob(row) : undefined;
  }

  private need(jobId: string): ActiveJob {
    const job = this.jobs.get(jobId);
    if (!job) throw new FlashError('job_not_found', `No job ${jobId} — it may have ended before the station restarted; see the history.`);
    return job;
  }

  private queuedAt(item: Queued, position: number): void {
    const job = this.jobs.get(item.jobId);
    if (!job) return;
    const device = this.deps.registry.find(item.deviceId);
    job.stage = device ? `Queued (position ${position})` : `Waiting for device ${item.deviceId} (position ${position})`;
    this.deps.emit({ type: 'flash_queued', jobId: item.jobId, deviceId: item.deviceId, position, timestamp: Date.now() });
  }

  private expire(item: Queued): void {
    const job = this.jobs.get(item.jobId);
    if (!job || !job.active) return;
    const message = `Device ${item.deviceId} did not appear in time — plug it in and start the job again.`;
    this.lifecycle.end(job, { state: 'failed', error: new FlashError('device_not_found', message) }, { ran: false });
  }

  private run(item: Queued): void {
    const job = this.jobs.get(item.jobId);
    if (!job) return;
    const deviceId = this.deps.registry.find(item.deviceId)?.attached.device.id ?? item.deviceId;
    this.deps.registry.setStationInfo(deviceId, { station: 'flashing', stationMessage: undefined });
    void runJob(job, {
      registry: this.deps.registry,
      record: this.lifecycle.record(job),
      emit: this.deps.emit,
      settings: this.deps.settings,
      stationBucket: this.stationBucket,
      clock: this.deps.clock,
      countBytes: (n) => (this.bytesFlashed += n),
      hashes: this.hashes,
    })
      // runJob reports every ending as an outcome; anything it throws all the same is a bug, and still ends the job.
      .catch((e: unknown): JobOutcome => ({ state: 'failed', error: toFlashError(e) }))
      .then((outcome) => {
        this.lifecycle.end(job, outcome, { ran: true, lockedId: deviceId });
      });
    if (job.spec.batchId) this.emitBatch(job.spec.batchId);
  }

  /** Bookkeeping after a job ended (ran, or never started) and its device was freed: counters, batch, retention. */
  private ended(job: ActiveJob, ran: boolean): void {
    void job.spec.release().catch(() => undefined);
    const device = this.deps.registry.get(job.deviceId);
    if (ran && job.state !== 'cancelled') {
      const port = device?.port ?? job.deviceId;
      const c = this.counters.get(port) ?? { port, succeeded: 0, failed: 0 };
      if (job.state === 'completed') c.succeeded++;
      else c.failed++;
      this.counters.set(port, c);
      this.deps.registry.setStationInfo(job.deviceId, {
        station: job.state === 'completed' ? 'done' : 'failed',
        stationMessage: job.state === 'completed' ? 'Done — unplug' : `Failed — ${job.error ?? 'see the job log'}`,
        stationSucceeded: c.succeeded,
        stationFailed: c.failed,
      });
    } else if (ran) {
      this.deps.registry.setStationInfo(job.deviceId, { station: undefined, stationMessage: undefined });
    }
    if (job.spec.batchId) this.emitBatch(job.spec.batchId);
    this.finishedOrder.push(job.jobId);
    while (this.finishedOrder.length > 200) {
      const old = this.finishedOrder.shift() as string;
      this.jobs.delete(old);
    }
  }

  /** A device plugged into a port with a record shows that port's counters. */
  private showCounters(id: string): void {
    const device = this.deps.registry.get(id);
    const c = this.counters.get(device?.port ?? id);
    if (!c || this.deps.registry.stationInfoOf(id).stationSucceeded !== undefined) return;
    this.deps.registry.setStationInfo(id, { stationSucceeded: c.succeeded, stationFailed: c.failed });
  }

  private emitBatch(batchId: string): void {
    if (this.quietBatches.has(batchId)) return;
    const s = this.batch(batchId);
    if (s) this.deps.emit(this.batches.message(s));
  }
}
