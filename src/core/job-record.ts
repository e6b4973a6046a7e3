// JobRecord: what history keeps of one station job, written so that a store fault never stops the job or its end.
import type { LogLevel } from '../protocol/messages.js';
import type { History, JobRow } from './history.js';
import type { ActiveJob } from './job.js';

/** Log lines kept per job; past this, one line says the rest were not kept. */
export const MAX_LOG_ROWS = 2000;

/** The part of History a job writes to (tests may pass a store that fails). */
export type JobStore = Pick<History, 'insert' | 'update' | 'log' | 'stageStarted' | 'stageEnded'>;

/**
 * Every history write of one job. A write that throws (a corrupt page, a full disk, a closed database) is caught here:
 * the job goes on and its final event still goes out. The first fault is reported once through `fault` (the lifecycle
 * turns it into a `flash_log` warning), so a technician learns the record may be incomplete.
 */
export class JobRecord {
  private logRows = 0;
  private faulted = false;

  constructor(
    private readonly store: JobStore,
    readonly jobId: string,
    private readonly fault: (message: string) => void,
  ) {}

  /** True once a write has failed. */
  get incomplete(): boolean {
    return this.faulted;
  }

  insert(row: Parameters<History['insert']>[0]): void {
    this.write('the new job', () => this.store.insert(row));
  }

  update(fields: Partial<JobRow>): void {
    this.write('the job', () => this.store.update(this.jobId, fields));
  }

  log(level: LogLevel, message: string, ts = Date.now()): void {
    const n = this.logRows++;
    if (n < MAX_LOG_ROWS) this.write('a log line', () => this.store.log(this.jobId, ts, level, message));
    else if (n === MAX_LOG_ROWS) this.write('a log line', () => this.store.log(this.jobId, ts, 'warn', 'Further log lines were not kept.'));
  }

  stageStarted(index: number, stage: string, ts = Date.now()): void {
    this.write('a stage', () => this.store.stageStarted(this.jobId, index, stage, ts));
  }

  stageEnded(index: number, bytes: number, ts = Date.now()): void {
    this.write('a stage', () => this.store.stageEnded(this.jobId, index, ts, bytes));
  }

  /** The row of an ended job: how it ended, its figures and its record hash. */
  ended(job: ActiveJob, ran: boolean): void {
    if (ran && job.stepIndex >= 0 && job.state !== 'completed') this.stageEnded(job.stepIndex, job.stepBytes);
    const fields: Partial<JobRow> = {
      state: job.state, result: job.state, error: job.error ?? null, error_code: job.errorCode ?? null,
      ended_at: job.endedAt ?? Date.now(), stage: job.stage,
    };
    if (ran) {
      Object.assign(fields, {
        bytes_transferred: job.state === 'completed' ? job.totalBytes : job.bytesTransferred,
        total_bytes: job.totalBytes, image_bytes: job.spec.imageBytes ?? null,
        avg_speed: job.meter.averageSpeed(), peak_speed: Math.max(job.meter.peakSpeed, job.meter.averageSpeed()),
        active_ms: Math.round(job.meter.activeMs()), attempts: job.attempts, image_sha256: job.sha256 ?? null,
      } satisfies Partial<JobRow>);
    }
    this.update(fields);
  }

  private write(what: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (this.faulted) return;
      this.faulted = true;
      const why = e instanceof Error ? e.message : String(e);
      this.fault(`History could not record ${what} (${why}); the job goes on, but its history record may be incomplete.`);
    }
  }
}
