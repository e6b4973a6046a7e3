// Outside agents' own jobs (contract §2.3 last row): checked, rebroadcast as they are, and recorded in history.
import type { FlashEventMessage, Job } from '../protocol/messages.js';
import { FlashError } from './errors.js';
import type { History } from './history.js';

const TYPES = new Set(['flash_started', 'flash_progress', 'flash_completed', 'flash_failed', 'flash_paused', 'flash_resumed']);

export class ExternalJobs {
  private readonly jobs = new Map<string, Job>();
  private readonly lastWrite = new Map<string, number>();
  private readonly maxKept = 200;

  constructor(
    private readonly history: History,
    /** True when the station itself runs (or ran) a job with this id. */
    private readonly isStationJob: (jobId: string) => boolean,
  ) {}

  list(): Job[] {
    return [...this.jobs.values()];
  }

  get(jobId: string): Job | undefined {
    return this.jobs.get(jobId);
  }

  /** Check an event and fold it into the job's record; returns the message to broadcast. */
  accept(message: FlashEventMessage): FlashEventMessage {
    const m = message as Partial<FlashEventMessage> & { type?: unknown };
    if (typeof m.type !== 'string' || !TYPES.has(m.type)) throw new FlashError('bad_request', 'Only flash_* job events can be published.');
    if (typeof m.jobId !== 'string' || !m.jobId || m.jobId.length > 128) throw new FlashError('bad_request', '`jobId` must be a non-empty string (≤ 128 characters).');
    if (typeof m.deviceId !== 'string' || !m.deviceId || m.deviceId.length > 128) throw new FlashError('bad_request', '`deviceId` must be a non-empty string (≤ 128 characters).');
    const known = this.jobs.get(m.jobId);
    if (!known && this.isStationJob(m.jobId)) {
      throw new FlashError('forbidden', `Job ${m.jobId} is run by the station itself; outside agents may only publish their own jobs.`);
    }
    if (known && known.deviceId !== m.deviceId) {
      throw new FlashError('bad_request', `Job ${m.jobId} was published for device ${known.deviceId}, not ${m.deviceId}.`);
    }
    const now = Date.now();
    const msg = { ...message, timestamp: typeof m.timestamp === 'number' && Number.isFinite(m.timestamp) ? m.timestamp : now } as FlashEventMessage;
    const job = known ?? this.create(msg, now);
    this.apply(job, msg, now);
    return msg;
  }

  private create(msg: FlashEventMessage, now: number): Job {
    const job: Job = {
      jobId: msg.jobId, deviceId: msg.deviceId, state: 'running', stage: '', progress: 0, bytesTransferred: 0,
      totalBytes: 0, transferSpeed: 0, estimatedTimeRemaining: 0, createdAt: now, startedAt: now, target: 'outside agent',
    };
    this.jobs.set(job.jobId, job);
    if (this.jobs.size > this.maxKept) {
      for (const [id, j] of this.jobs) {
        if (j.state !== 'running' && j.state !== 'paused') {
          this.jobs.delete(id);
          this.lastWrite.delete(id);
          break;
        }
      }
    }
    if (this.history.has(job.jobId)) {
      this.history.update(job.jobId, { state: 'running', ended_at: null });
    } else {
      this.history.insert({
        job_id: job.jobId, device_id: job.deviceId, state: 'running', created_at: now, started_at: now, external: 1,
        target: 'outside agent',
      });
    }
    return job;
  }

  private apply(job: Job, msg: FlashEventMessage, now: number): void {
    let final = false;
    switch (msg.type) {
      case 'flash_started':
        job.state = 'running';
        job.stage = str(msg.stage, job.stage);
        job.totalBytes = num(msg.totalBytes, job.totalBytes);
        if (typeof msg.imageBytes === 'number') job.imageBytes = msg.imageBytes;
        break;
      case 'flash_progress':
        job.state = 'running';
        job.progress = Math.max(0, Math.min(100, num(msg.progress, job.progress)));
        job.stage = str(msg.stage, job.stage);
        job.bytesTransferred = num(msg.bytesTransferred, job.bytesTransferred);
        job.totalBytes = num(msg.totalBytes, job.totalBytes);
        job.transferSpeed = num(msg.transferSpeed, job.transferSpeed);
        job.estimatedTimeRemaining = num(msg.estimatedTimeRemaining, job.estimatedTimeRemaining);
        break;
      case 'flash_paused':
        job.state = 'paused';
        break;
      case 'flash_resumed':
        job.state = 'running';
        break;
      case 'flash_completed':
        job.state = 'completed';
        job.progress = 100;
        final = true;
        break;
      case 'flash_failed':
        job.state = msg.reason === 'cancelled' ? 'cancelled' : 'failed';
        job.error = str(msg.error, 'Failed');
        if (typeof msg.code === 'string') job.errorCode = msg.code;
        final = true;
        break;
    }
    if (final) job.endedAt = now;
    const last = this.lastWrite.get(job.jobId) ?? 0;
    if (final || msg.type !== 'flash_progress' || now - last >= 1000) {
      this.lastWrite.set(job.jobId, now);
      this.history.update(job.jobId, {
        state: job.state, stage: job.stage, total_bytes: job.totalBytes, bytes_transferred: job.bytesTransferred,
        ...(final ? { ended_at: now, result: job.state, error: job.error ?? null, error_code: job.errorCode ?? null } : {}),
        ...(job.transferSpeed > 0 ? { avg_speed: job.transferSpeed } : {}),
      });
    }
  }
}

function num(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : fallback;
}

function str(v: unknown, fallback: string): string {
  return typeof v === 'string' ? v.slice(0, 500) : fallback;
}
