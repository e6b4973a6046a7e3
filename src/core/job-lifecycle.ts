// JobLifecycle: the one place a station job begins its record and ends — final event, history row, device freed.
import type { FlashFailedMessage, ServerMessage } from '../protocol/messages.js';
import type { FlashError } from './errors.js';
import type { ActiveJob } from './job.js';
import { JobRecord, type JobStore } from './job-record.js';

/** How a job ended, as the runner (or the queue) decides it. */
export type JobOutcome =
  | { state: 'completed' }
  | { state: 'failed'; error: FlashError }
  /** `detail`: what the cancel left behind when that is more than "Cancelled" (a download left half-sent). */
  | { state: 'cancelled'; detail?: string };

/** Whether the job held its device (it ran) or ended while queued; a job that ran names the id it locked. */
export type Ran = { ran: true; lockedId: string } | { ran: false };

export interface LifecycleDeps {
  store: JobStore;
  emit: (message: ServerMessage) => void;
  /** Free the device and the slot a running job held. */
  free(job: ActiveJob, lockedId: string): void;
  /** Bookkeeping once the job has ended and its device is free (counters, batch summary, retention). */
  ended(job: ActiveJob, ran: boolean): void;
}

/**
 * A job ends exactly once, here: the job takes its final state, history gets its final row, the client gets
 * `flash_completed` or `flash_failed` (contract §2.1: a cancel is `error: "Cancelled"`, `reason: "cancelled"`), and the
 * device is freed. The event goes out whatever the history store does (a corrupt page, a full disk): store faults are
 * caught by the job's record and reported as a `flash_log` warning, never thrown past this point.
 */
export class JobLifecycle {
  private readonly records = new Map<string, JobRecord>();

  constructor(private readonly deps: LifecycleDeps) {}

  /** The history record of a job (created on first use). */
  record(job: ActiveJob): JobRecord {
    let record = this.records.get(job.jobId);
    if (!record) {
      record = new JobRecord(this.deps.store, job.jobId, (message) => this.warn(job, message));
      this.records.set(job.jobId, record);
    }
    return record;
  }

  /** A device or driver message for a job: sent to clients and kept in its history. */
  log(job: ActiveJob, level: 'info' | 'warn' | 'error', message: string): void {
    const ts = Date.now();
    this.deps.emit({ type: 'flash_log', jobId: job.jobId, deviceId: job.deviceId, level, message, timestamp: ts });
    this.record(job).log(level, message, ts);
  }

  /**
   * End a job. Returns false (and does nothing) when it had already ended, so racing ends (a cancel and a failure,
   * a queue deadline and a start) cannot send two final events.
   */
  end(job: ActiveJob, outcome: JobOutcome, how: Ran): boolean {
    if (!job.active) return false;
    const record = this.record(job);
    const final = finish(job, outcome);
    try {
      if (outcome.state === 'failed' && how.ran) this.log(job, 'error', outcome.error.message);
      record.ended(job, how.ran);
    } finally {
      this.records.delete(job.jobId);
      this.deps.emit(final);
      try {
        if (how.ran) this.deps.free(job, how.lockedId);
      } finally {
        this.deps.ended(job, how.ran);
      }
    }
    return true;
  }

  private warn(job: ActiveJob, message: string): void {
    this.deps.emit({ type: 'flash_log', jobId: job.jobId, deviceId: job.deviceId, level: 'warn', message, timestamp: Date.now() });
  }
}

/** Give the job its final state and build the event that says so. */
function finish(job: ActiveJob, outcome: JobOutcome): ServerMessage {
  const ids = { jobId: job.jobId, deviceId: job.deviceId };
  switch (outcome.state) {
    case 'completed':
      job.finish('completed');
      return { type: 'flash_completed', ...ids, timestamp: Date.now() };
    case 'cancelled': {
      // The job's error is what the cancel left behind; the event keeps the contract's "Cancelled" and carries it as detail.
      job.finish('cancelled', { code: 'cancelled', message: outcome.detail ?? 'Cancelled' });
      const m: FlashFailedMessage = { type: 'flash_failed', ...ids, error: 'Cancelled', reason: 'cancelled', code: 'cancelled', timestamp: Date.now() };
      if (outcome.detail) m.detail = outcome.detail;
      return m;
    }
    case 'failed': {
      const { code, message, detail } = outcome.error;
      job.finish('failed', { code, message: detail ? `${message} (${detail})` : message });
      const m: FlashFailedMessage = { type: 'flash_failed', ...ids, error: message, reason: 'error', code, timestamp: Date.now() };
      if (detail) m.detail = detail;
      return m;
    }
  }
}
