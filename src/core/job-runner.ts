// Runs one job: opens its images, drives each step through the device's driver with retries, reports how it ended.
import type { LoadedStep } from '../images/index.js';
import type { DeviceRegistry } from '../devices/registry.js';
import type { FlashProgressMessage, LogLevel, ServerMessage } from '../protocol/messages.js';
import type { Clock } from './clock.js';
import { sleep } from './clock.js';
import { FlashError, isFlashError, toFlashError } from './errors.js';
import type { PendingImage, HashRecords } from './hash-records.js';
import type { ActiveJob } from './job.js';
import type { JobOutcome } from './job-lifecycle.js';
import type { JobRecord } from './job-record.js';
import { releaseSource } from './job-spec.js';
import { ProgressPacer } from './progress-pacer.js';
import type { Settings } from './settings.js';
import { stageFor } from './step-stage.js';
import { createJobThrottle } from './throttle.js';
import type { TokenBucket } from './token-bucket.js';
import type { BlockSource } from '../contracts/source.js';
import type { Link } from '../contracts/links.js';
import type { Family, JobContext, PlanStep } from '../contracts/family.js';
import { targetText, type ImagePrepareProgress } from '../contracts/plan.js';
import { formatBytes } from '../protocol/units.js';
import { withSource } from '../images/index.js';

export interface RunnerDeps {
  registry: DeviceRegistry;
  /** The job's history record (its writes never throw). */
  record: JobRecord;
  emit: (message: ServerMessage) => void;
  settings: () => Settings;
  stationBucket: TokenBucket;
  clock: Clock;
  /** Data bytes that reached a device, station-wide (metrics). */
  countBytes(n: number): void;
  /** Where a completed job's image hashes are followed until they are ready. */
  hashes: HashRecords;
}

/** The history stage index of an image's long pass before the first step (steps count from 0). */
const PREPARE_STAGE = -1;

/** How long an attached device must stay put after a reboot before we take it as back (network devices). */
const REBOOT_SETTLE_MS = 1500;

/**
 * Run a job from its images to its last step and say how it ended. Never throws: the caller (the job lifecycle) sends
 * the final event and writes the final record. The steps, in order:
 *   1. open every image (totals known, a broken image fails before anything is written); an image that needs a long
 *      pass first (decompressing it to learn its size) announces the job at once and shows that pass as its stage;
 *   2. announce the start (`flash_started`, history row running), unless step 1 did;
 *   3. run each step through the driver, retrying transient faults;
 *   4. hand the image hashes to HashRecords and send the last progress frame (100 %).
 */
export async function runJob(job: ActiveJob, deps: RunnerDeps): Promise<JobOutcome> {
  let run: JobRun | undefined;
  const watchdog = cancelWatchdog(job.abort.signal, deps.clock, () => run?.forceStop());
  const work = (async (): Promise<JobOutcome> => {
    try {
      run = new JobRun(job, deps);
      await run.openImages();
      if (!run.announced) run.announceStart();
      for (const [i, step] of job.spec.steps.entries()) await run.runStep(i, step);
      await run.complete();
      return { state: 'completed' };
    } catch (e) {
      return run ? run.outcomeOf(e) : { state: 'failed', error: toFlashError(e) };
    }
  })();
  try {
    // A driver that does not return even after its connection was closed must not hold the job (or its device).
    return await Promise.race([work, watchdog.abandoned]);
  } finally {
    watchdog.stop();
    run?.release();
  }
}

/** How long a cancelled driver gets to stop by itself before its device connection is closed under it. */
export const CANCEL_GRACE_MS = 1500;
/** How long after that the job ends anyway, whatever the driver does. */
export const CANCEL_ABANDON_MS = 400;
const FORCED_DETAIL = 'Cancelled: the device did not stop within 2 s, so its connection was closed; it may have been ' +
  'mid-write. Check the device (or replug it) before flashing it again.';

/**
 * After a cancel: first the driver's own clean stop (between transfers); past CANCEL_GRACE_MS, `force()` closes the
 * device's connection so that a stalled write or a command the device never answers fails at once; past
 * CANCEL_ABANDON_MS more, `abandoned` settles with the cancelled outcome.
 */
function cancelWatchdog(signal: AbortSignal, clock: Clock, force: () => void): { abandoned: Promise<JobOutcome>; stop(): void } {
  const timers: unknown[] = [];
  let settle: ((o: JobOutcome) => void) | undefined;
  const abandoned = new Promise<JobOutcome>((resolve) => (settle = resolve));
  const onAbort = (): void => {
    timers.push(clock.setTimeout(() => {
      force();
      timers.push(clock.setTimeout(() => settle?.({ state: 'cancelled', detail: FORCED_DETAIL }), CANCEL_ABANDON_MS));
    }, CANCEL_GRACE_MS));
  };
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  return {
    abandoned,
    stop() {
      signal.removeEventListener('abort', onAbort);
      for (const t of timers) clock.clearTimeout(t);
    },
  };
}

/** One running job's working state: its device link, opened images, progress pacing and the context drivers see. */
class JobRun {
  private readonly signal: AbortSignal;
  private readonly family: Family;
  private link: Link;
  private generation: number;
  private readonly opened: Array<BlockSource | undefined> = [];
  private readonly pacer: ProgressPacer;
  private readonly ctx: JobContext;
  private readonly deviceId: string;
  private lastDbWrite = 0;
  /** Set once the device work is done: the last progress frame says 100. */
  private final = false;
  /** Set when a cancel had to close the device's connection (see cancelWatchdog). */
  private forced = false;
  /** Set once `flash_started` went out. */
  announced = false;
  /** Set while an image's long pass runs (its history stage is open). */
  private preparing = false;

  constructor(
    private readonly job: ActiveJob,
    private readonly deps: RunnerDeps,
  ) {
    this.signal = job.abort.signal;
    const entry = deps.registry.find(job.deviceId);
    if (!entry) throw new FlashError('device_not_found', `Device ${job.deviceId} went away before its job started — plug it in and start the job again.`);
    this.family = entry.attached.family;
    this.link = entry.attached.link;
    this.generation = entry.generation;
    this.deviceId = entry.attached.device.id;
    this.pacer = new ProgressPacer(() => this.progressTick(), undefined, deps.clock);
    this.ctx = this.context();
  }

  /**
   * Step 1: open every flash image first, so totalBytes covers all of them and a broken one fails before any write.
   * An image that needs a long pass before it can be written (decompressing it to learn its size) reports it through
   * `onPrepare`: the job is announced then (state running, total not known yet) and the pass is its stage, with how
   * far it is; cancel stops it. Nothing is sent to the device before every image is open.
   */
  async openImages(): Promise<void> {
    const { job, signal } = this;
    let total = 0;
    let exact = true;
    let expanded = 0;
    try {
      for (const [i, step] of job.spec.steps.entries()) {
        if (step.op !== 'flash') continue;
        const source = await step.image.open({ signal, onPrepare: (p) => this.prepareProgress(p) });
        this.opened[i] = source;
        total += source.dataBytes;
        expanded += source.size;
        exact &&= source.exact;
      }
    } finally {
      if (this.preparing) {
        this.preparing = false;
        this.deps.record.stageEnded(PREPARE_STAGE, 0);
      }
    }
    if (signal.aborted) throw signal.reason;
    job.totalBytes = total;
    job.exactTotal = exact;
    job.spec.imageBytes = expanded;
    if (this.announced) {
      this.deps.record.update({ total_bytes: total, image_bytes: expanded });
      // Speeds and the average count the device work, not the decode before it.
      if (job.state === 'running') job.meter.start();
      this.pacer.poke();
    }
  }

  /** An image's long pass goes on: announce the job (once), open its history stage (once), show how far it is. */
  private prepareProgress(p: ImagePrepareProgress): void {
    const { job } = this;
    if (this.signal.aborted) return;
    if (!this.announced) this.announceStart(p.stage);
    if (!this.preparing) {
      this.preparing = true;
      this.deps.record.stageStarted(PREPARE_STAGE, p.stage);
      this.log('info', p.note);
    }
    const how = p.fraction !== undefined ? `${Math.floor(p.fraction * 100)} %` : `${formatBytes(p.bytes)} so far`;
    job.stage = `${p.stage} (${how})`;
    this.pacer.poke();
  }

  /** Step 2: the job runs: history learns the device (a job that waited for it learns it only now); clients learn the total. */
  announceStart(stage?: string): void {
    const { job, deps } = this;
    const steps = job.spec.steps;
    this.announced = true;
    job.state = 'running';
    job.startedAt = Date.now();
    job.stage = stage ?? (steps[0] ? stageFor(steps[0], 0, steps.length, this.family) : 'Starting');
    if (stage === undefined) job.meter.start(); // (an image's long pass first: the meter starts when it ends)
    const device = deps.registry.get(this.deviceId);
    deps.record.update({
      state: 'running', started_at: job.startedAt, total_bytes: job.totalBytes, image_bytes: job.spec.imageBytes ?? null, stage: job.stage,
      ...(device ? { device_serial: device.serial, device_name: device.name, protocol: device.protocol, transport: device.transport } : {}),
      ...(device?.port !== undefined ? { port: device.port } : {}),
    });
    deps.emit({
      type: 'flash_started', jobId: job.jobId, deviceId: job.deviceId, stage: job.stage, totalBytes: job.totalBytes,
      imageBytes: job.spec.imageBytes ?? 0, timestamp: Date.now(),
    });
  }

  /** Step 3: one plan step, tried again after a transient fault up to the `retries` setting. */
  async runStep(i: number, step: LoadedStep): Promise<void> {
    const { job } = this;
    const count = job.spec.steps.length;
    await job.gate.pass(this.signal);
    job.beginStep(i, step.op === 'flash');
    job.stage = stageFor(step, i, count, this.family);
    this.pacer.poke();
    this.deps.record.stageStarted(i, job.stage);
    for (let attempt = 0; ; attempt++) {
      job.beginAttempt();
      job.attempts++;
      try {
        await this.attempt(i, step);
        break;
      } catch (e) {
        await this.beforeRetry(e, i, attempt);
      }
    }
    this.deps.record.stageEnded(i, job.stepBytes);
  }

  /** Step 4: the device work is done. Hashes still underway follow into history; the last progress frame says 100. */
  async complete(): Promise<void> {
    const { job } = this;
    // An image file overwritten while it was flashed fails the job: the device may hold a mix of old and new bytes.
    for (const source of this.opened) await source?.unchanged?.();
    await this.deps.hashes.follow(job, pendingImages(job.spec.steps, this.opened));
    if (job.bytesTransferred > job.totalBytes) job.totalBytes = job.bytesTransferred;
    this.final = true;
    await this.pacer.flush();
  }

  /** The cancel watchdog's last resort: close the device's connection so that a stalled transfer fails now. */
  forceStop(): void {
    this.forced = true;
    this.log('warn', 'The device did not stop after the cancel; closing its connection.');
    void this.link.close().catch(() => undefined);
  }

  /** What a thrown error means for the job: cancelled (saying what the cancel left behind) or failed. */
  outcomeOf(e: unknown): JobOutcome {
    this.pacer.cancel();
    if (!this.signal.aborted) return { state: 'failed', error: toFlashError(e) };
    const reason = toFlashError(this.signal.reason);
    if (reason.code !== 'cancelled' && reason.message !== 'Cancelled') this.log('info', `Cancelled: ${reason.message}`);
    if (this.forced) return { state: 'cancelled', detail: FORCED_DETAIL };
    const detail = cancelDetail(e, this.signal) ?? this.partialDetail();
    return detail ? { state: 'cancelled', detail } : { state: 'cancelled' };
  }

  /** When the driver did not say it: a cancel after bytes were sent leaves the device with part of the image. */
  private partialDetail(): string | undefined {
    const { bytesTransferred: done, totalBytes: total } = this.job;
    if (done <= 0) return undefined;
    return `Cancelled after ${formatBytes(done)} of ${formatBytes(Math.max(done, total))} had been sent: the device may ` +
      'hold part of the image; flash it again before use.';
  }

  /** Close what the job opened (every path). */
  release(): void {
    this.pacer.cancel();
    for (const s of this.opened) releaseSource(s);
  }

  private async attempt(i: number, step: LoadedStep): Promise<void> {
    if (step.op === 'wait_for_device') {
      await this.waitForDevice(step.timeoutMs);
      return;
    }
    this.opened[i] ??= await openStepSource(step, this.signal);
    await this.family.run(this.link, toPlanStep(step, this.opened[i]), this.ctx);
  }

  /** After a failed attempt: rethrow unless it is transient and retries are left; else wait and find the device again. */
  private async beforeRetry(e: unknown, i: number, attempt: number): Promise<void> {
    const { signal, deps, job } = this;
    if (signal.aborted) throw cancelDetail(e, signal) !== undefined ? e : signal.reason;
    const err = toFlashError(e);
    const { retries, retryDelayMs, deviceWaitMs } = deps.settings();
    if (!err.transient || attempt >= retries) throw err;
    this.log('warn', `${err.message} — retrying ${job.stage.replace(/ \(\d+\/\d+\)$/, '')} (${attempt + 1} of ${retries})`);
    releaseSource(this.opened[i]);
    this.opened[i] = undefined;
    await sleep(deps.clock, retryDelayMs, signal);
    // The device may have dropped (its detach can trail the error a little): wait for it to come back, or take it as
    // it is when it stays attached for a second.
    await this.reattach(Math.max(30_000, deviceWaitMs), 1000);
  }

  private async waitForDevice(timeoutMs: number): Promise<Link> {
    return this.reattach(timeoutMs, REBOOT_SETTLE_MS);
  }

  private async reattach(timeoutMs: number, settleMs: number): Promise<Link> {
    const back = await this.deps.registry.waitFor(this.job.deviceId, timeoutMs, this.signal, { newerThan: this.generation, settleMs });
    this.generation = back.generation;
    this.link = back.attached.link;
    return this.link;
  }

  private log(level: LogLevel, message: string): void {
    const { job } = this;
    const ts = Date.now();
    this.deps.emit({ type: 'flash_log', jobId: job.jobId, deviceId: job.deviceId, level, message, timestamp: ts });
    this.deps.record.log(level, message, ts);
  }

  /** What a driver sees of the job. A driver that forgets to pass the signal is still released by a cancel. */
  private context(): JobContext {
    const { job, signal, deps } = this;
    const throttle = createJobThrottle(job.bucket, deps.stationBucket);
    return {
      jobId: job.jobId,
      deviceId: job.deviceId,
      signal,
      gate: { pass: (s?: AbortSignal) => job.gate.pass(s ?? signal) },
      throttle: { take: (n: number, s?: AbortSignal) => throttle.take(n, s ?? signal) },
      moved: (n) => {
        job.moved(n);
        deps.countBytes(n);
        this.pacer.poke();
      },
      stage: (text) => {
        job.stage = text;
        this.pacer.poke();
      },
      log: (level, message) => this.log(level, message),
      waitForDevice: (timeoutMs) => this.waitForDevice(timeoutMs),
      describe: (patch) => deps.registry.redescribe(job.deviceId, patch),
    };
  }

  /** A paced progress frame (≤ 10/s), and at most once a second the figures in history. */
  private progressTick(): void {
    const { job } = this;
    if (job.state !== 'running' && !this.final) return;
    const frame = this.final
      ? { ...progressFrame(job), progress: 100, bytesTransferred: job.totalBytes, totalBytes: job.totalBytes, estimatedTimeRemaining: 0 }
      : progressFrame(job);
    this.deps.emit(frame);
    if (frame.timestamp - this.lastDbWrite >= 1000) {
      this.lastDbWrite = frame.timestamp;
      this.deps.record.update({ bytes_transferred: job.bytesTransferred, total_bytes: job.totalBytes, stage: job.stage });
    }
  }
}

function progressFrame(job: ActiveJob): FlashProgressMessage {
  const s = job.snapshot();
  return {
    type: 'flash_progress', jobId: job.jobId, deviceId: job.deviceId, progress: s.progress, stage: s.stage,
    bytesTransferred: s.bytesTransferred, totalBytes: s.totalBytes, transferSpeed: s.transferSpeed,
    estimatedTimeRemaining: s.estimatedTimeRemaining, timestamp: Date.now(),
  };
}

async function openStepSource(step: LoadedStep, signal: AbortSignal): Promise<BlockSource | undefined> {
  if (step.op === 'flash' || step.op === 'verify') return step.image.open({ signal });
  return undefined;
}

function toPlanStep(step: LoadedStep, source: BlockSource | undefined): PlanStep {
  if (step.op === 'flash' || step.op === 'verify') return withSource(step, source as BlockSource);
  return step;
}

/**
 * What a driver's own `cancelled` error says the cancel left behind, when it says more than "Cancelled": its message
 * (a download left half-sent at byte N) or its detail (what a disk holds). Undefined for the cancel's reason itself or
 * a plain "Cancelled".
 */
function cancelDetail(e: unknown, signal: AbortSignal): string | undefined {
  if (e === signal.reason || !isFlashError(e) || e.code !== 'cancelled') return undefined;
  if (e.message !== 'Cancelled') return e.message;
  return e.detail ? `Cancelled: ${e.detail}` : undefined;
}

/** What each flash step wrote, with the SHA-256 the image pipeline computes (or computed) while it streamed. */
function pendingImages(steps: LoadedStep[], opened: Array<BlockSource | undefined>): PendingImage[] {
  const out: PendingImage[] = [];
  for (const [i, step] of steps.entries()) {
    const source = opened[i];
    if (step.op !== 'flash' || !source) continue;
    out.push({
      record: { partition: targetText(step.target), location: step.image.location, size: source.size, dataBytes: source.dataBytes },
      hash: source.sha256(),
      started: source.hashStarted ?? false,
    });
  }
  return out;
}
