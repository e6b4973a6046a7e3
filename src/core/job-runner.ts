// Runs one job: opens its images, drives each step through the device's driver with retries, emits its events.
import type { LoadedStep } from '../images/index.js';
import type { DeviceRegistry } from '../devices/registry.js';
import type { FlashProgressMessage, LogLevel, ServerMessage } from '../protocol/messages.js';
import type { Clock } from './clock.js';
import { sleep } from './clock.js';
import { FlashError, isFlashError, toFlashError } from './errors.js';
import type { PendingImage, HashRecords } from './hash-records.js';
import type { History } from './history.js';
import type { ActiveJob } from './job.js';
import { releaseSource } from './job-spec.js';
import { ProgressPacer } from './progress-pacer.js';
import type { Settings } from './settings.js';
import { stageFor } from './step-stage.js';
import { createJobThrottle } from './throttle.js';
import type { TokenBucket } from './token-bucket.js';
import type { BlockSource, DeviceLink, JobContext, PlanStep } from './types.js';

export interface RunnerDeps {
  registry: DeviceRegistry;
  history: History;
  emit(message: ServerMessage): void;
  settings(): Settings;
  stationBucket: TokenBucket;
  clock: Clock;
  /** Data bytes that reached a device, station-wide (metrics). */
  countBytes(n: number): void;
  /** Where a completed job's image hashes are followed until they are ready. */
  hashes: HashRecords;
}

const MAX_LOG_ROWS = 2000;
/** How long an attached device must stay put after a reboot before we take it as back (network devices). */
const REBOOT_SETTLE_MS = 1500;

export async function runJob(job: ActiveJob, deps: RunnerDeps): Promise<void> {
  const { registry, history, emit } = deps;
  const signal = job.abort.signal;
  const entry = registry.find(job.deviceId);
  if (!entry) throw new FlashError('device_not_found', `Device ${job.deviceId} went away before its job started.`);
  const driver = entry.attached.driver;
  let link: DeviceLink = entry.attached.link;
  let generation = entry.generation;
  let logRows = 0;
  let lastDbWrite = 0;
  const opened: Array<BlockSource | undefined> = [];

  const progressFrame = (): FlashProgressMessage => {
    const s = job.snapshot();
    return {
      type: 'flash_progress', jobId: job.jobId, deviceId: job.deviceId, progress: s.progress, stage: s.stage,
      bytesTransferred: s.bytesTransferred, totalBytes: s.totalBytes, transferSpeed: s.transferSpeed,
      estimatedTimeRemaining: s.estimatedTimeRemaining, timestamp: Date.now(),
    };
  };
  let final = false;
  const pacer = new ProgressPacer(() => {
    if (job.state !== 'running' && !final) return;
    const frame = final
      ? { ...progressFrame(), progress: 100, bytesTransferred: job.totalBytes, totalBytes: job.totalBytes, estimatedTimeRemaining: 0 }
      : progressFrame();
    emit(frame);
    if (frame.timestamp - lastDbWrite >= 1000) {
      lastDbWrite = frame.timestamp;
      history.update(job.jobId, { bytes_transferred: job.bytesTransferred, total_bytes: job.totalBytes, stage: job.stage });
    }
  }, 100, deps.clock);

  const log = (level: LogLevel, message: string): void => {
    emit({ type: 'flash_log', jobId: job.jobId, deviceId: job.deviceId, level, message, timestamp: Date.now() });
    if (logRows++ < MAX_LOG_ROWS) history.log(job.jobId, Date.now(), level, message);
    else if (logRows === MAX_LOG_ROWS + 1) history.log(job.jobId, Date.now(), 'warn', 'Further log lines were not kept.');
  };

  const waitForDevice = async (timeoutMs: number): Promise<DeviceLink> => {
    const back = await registry.waitFor(job.deviceId, timeoutMs, signal, { newerThan: generation, settleMs: REBOOT_SETTLE_MS });
    generation = back.generation;
    link = back.attached.link;
    return link;
  };

  const throttle = createJobThrottle(job.bucket, deps.stationBucket);
  const ctx: JobContext = {
    jobId: job.jobId,
    deviceId: job.deviceId,
    signal,
    // A driver that forgets to pass the signal is still released by a cancel.
    gate: { pass: (s?: AbortSignal) => job.gate.pass(s ?? signal) },
    throttle: { take: (n: number, s?: AbortSignal) => throttle.take(n, s ?? signal) },
    moved: (n) => {
      job.moved(n);
      deps.countBytes(n);
      pacer.poke();
    },
    stage: (text) => {
      job.stage = text;
      pacer.poke();
    },
    log,
    waitForDevice,
  };

  const steps = job.spec.steps;
  try {
    // Open every image first: totalBytes covers all flash steps, and a broken image fails before anything is written.
    let total = 0;
    let exact = true;
    let expanded = 0;
    for (const [i, step] of steps.entries()) {
      if (step.op !== 'flash') continue;
      const source = await step.image.open({ signal });
      opened[i] = source;
      total += source.dataBytes;
      expanded += source.size;
      exact &&= source.exact;
    }
    if (signal.aborted) throw signal.reason;
    job.totalBytes = total;
    job.exactTotal = exact;
    job.spec.imageBytes = expanded;
    job.state = 'running';
    job.startedAt = Date.now();
    job.stage = steps[0] ? stageFor(steps[0], 0, steps.length) : 'Starting';
    job.meter.start();
    const device = registry.get(entry.attached.device.id);
    history.update(job.jobId, {
      state: 'running', started_at: job.startedAt, total_bytes: total, image_bytes: expanded, stage: job.stage,
      // A job that waited for its device learns what it is only now.
      ...(device ? { device_serial: device.serial, device_name: device.name, protocol: device.protocol, transport: device.transport } : {}),
      ...(device?.port !== undefined ? { port: device.port } : {}),
    });
    emit({
      type: 'flash_started', jobId: job.jobId, deviceId: job.deviceId, stage: job.stage, totalBytes: total,
      imageBytes: expanded, timestamp: Date.now(),
    });

    for (const [i, step] of steps.entries()) {
      await job.gate.pass(signal);
      job.beginStep(i, step.op === 'flash');
      job.stage = stageFor(step, i, steps.length);
      pacer.poke();
      const stepStart = Date.now();
      history.stageStarted(job.jobId, i, job.stage, stepStart);
      for (let attempt = 0; ; attempt++) {
        job.beginAttempt();
        job.attempts++;
        try {
          if (step.op === 'wait_for_device') await waitForDevice(step.timeoutMs);
          else {
            opened[i] ??= await openStepSource(step, signal);
            await driver.run(link, toPlanStep(step, opened[i]), ctx);
          }
          break;
        } catch (e) {
          if (signal.aborted) throw cancelDetail(e, signal) !== undefined ? e : signal.reason;
          const err = toFlashError(e);
          const retries = deps.settings().retries;
          if (!err.transient || attempt >= retries) throw err;
          log('warn', `${err.message} — retrying ${job.stage.replace(/ \(\d+\/\d+\)$/, '')} (${attempt + 1} of ${retries})`);
          releaseSource(opened[i]);
          opened[i] = undefined;
          await sleep(deps.clock, deps.settings().retryDelayMs, signal);
          // The device may have dropped (its detach can trail the error a little): wait for it to come back, or take
          // it as it is when it stays attached for a second.
          const back = await registry.waitFor(job.deviceId, Math.max(30_000, deps.settings().deviceWaitMs), signal, {
            newerThan: generation,
            settleMs: 1000,
          });
          generation = back.generation;
          link = back.attached.link;
        }
      }
      history.stageEnded(job.jobId, i, Date.now(), job.stepBytes);
    }

    // The device work is done: the job completes now. Record hashes still underway (a worker thread reading the
    // file at nice 10) land in history and on the job when ready; ones already known are in the record at once.
    await deps.hashes.follow(job, pendingImages(steps, opened));
    // The last progress frame says 100 (still within ≤ 10 frames/s), then the job completes.
    if (job.bytesTransferred > job.totalBytes) job.totalBytes = job.bytesTransferred;
    final = true;
    await pacer.flush();
    job.finish('completed');
    emit({ type: 'flash_completed', jobId: job.jobId, deviceId: job.deviceId, timestamp: Date.now() });
  } catch (e) {
    pacer.cancel();
    if (signal.aborted) {
      const reason = toFlashError(signal.reason);
      // What the driver says the cancel left behind ("the download of system was left half-sent at byte N …") is the
      // job's error; flash_failed keeps the contract's "Cancelled" and carries it as `detail`.
      const detail = cancelDetail(e, signal);
      job.finish('cancelled', { code: 'cancelled', message: detail ?? 'Cancelled' });
      if (reason.code !== 'cancelled' && reason.message !== 'Cancelled') log('info', `Cancelled: ${reason.message}`);
      emit({
        type: 'flash_failed', jobId: job.jobId, deviceId: job.deviceId, error: 'Cancelled', reason: 'cancelled',
        code: 'cancelled', ...(detail ? { detail } : {}), timestamp: Date.now(),
      });
    } else {
      const err = toFlashError(e);
      job.finish('failed', { code: err.code, message: err.message });
      log('error', err.message);
      emit({
        type: 'flash_failed', jobId: job.jobId, deviceId: job.deviceId, error: err.message, reason: 'error',
        code: err.code, timestamp: Date.now(),
      });
    }
  } finally {
    pacer.cancel();
    for (const s of opened) releaseSource(s);
    if (job.stepIndex >= 0 && job.state !== 'completed') history.stageEnded(job.jobId, job.stepIndex, Date.now(), job.stepBytes);
    history.update(job.jobId, {
      state: job.state, result: job.state, error: job.error ?? null, error_code: job.errorCode ?? null,
      ended_at: job.endedAt ?? Date.now(), bytes_transferred: job.state === 'completed' ? job.totalBytes : job.bytesTransferred,
      total_bytes: job.totalBytes, image_bytes: job.spec.imageBytes ?? null, stage: job.stage,
      avg_speed: job.meter.averageSpeed(), peak_speed: Math.max(job.meter.peakSpeed, job.meter.averageSpeed()),
      active_ms: Math.round(job.meter.activeMs()), attempts: job.attempts, image_sha256: job.sha256 ?? null,
    });
  }
}

async function openStepSource(step: LoadedStep, signal: AbortSignal): Promise<BlockSource | undefined> {
  if (step.op === 'flash' || step.op === 'verify') return step.image.open({ signal });
  return undefined;
}

function toPlanStep(step: LoadedStep, source: BlockSource | undefined): PlanStep {
  if (step.op === 'flash') {
    const s: PlanStep = { op: 'flash', partition: step.partition, source: source as BlockSource };
    if (step.slot) s.slot = step.slot;
    return s;
  }
  if (step.op === 'verify') return { op: 'verify', partition: step.partition, source: source as BlockSource };
  return step;
}

/**
 * The message of a driver's own `cancelled` error when it says more than "Cancelled" (a download left half-sent at
 * byte N): what the cancel left behind. Undefined for the cancel's reason itself or a plain "Cancelled".
 */
function cancelDetail(e: unknown, signal: AbortSignal): string | undefined {
  return e !== signal.reason && isFlashError(e) && e.code === 'cancelled' && e.message !== 'Cancelled' ? e.message : undefined;
}

/** What each flash step wrote, with the SHA-256 the image pipeline computes (or computed) while it streamed. */
function pendingImages(steps: LoadedStep[], opened: Array<BlockSource | undefined>): PendingImage[] {
  const out: PendingImage[] = [];
  for (const [i, step] of steps.entries()) {
    const source = opened[i];
    if (step.op !== 'flash' || !source) continue;
    out.push({
      record: { partition: step.partition, location: step.image.location, size: source.size, dataBytes: source.dataBytes },
      hash: source.sha256(),
      started: source.hashStarted ?? false,
    });
  }
  return out;
}
