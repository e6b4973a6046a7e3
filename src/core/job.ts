// ActiveJob: one job's live state — lifecycle, byte accounting across steps and retries, meter, gate, bucket.
import type { Job, JobState } from '../protocol/messages.js';
import type { Clock } from './clock.js';
import type { ErrorCode } from './errors.js';
import { systemClock } from './clock.js';
import { PauseGate } from './pause-gate.js';
import { ProgressMeter } from './progress-meter.js';
import { TokenBucket } from './token-bucket.js';
import type { JobSpec } from './job-spec.js';

export const ACTIVE_STATES: ReadonlySet<JobState> = new Set(['queued', 'running', 'paused']);

export class ActiveJob {
  readonly jobId: string;
  readonly deviceId: string;
  readonly createdAt = Date.now();
  readonly abort = new AbortController();
  readonly gate = new PauseGate();
  readonly meter: ProgressMeter;
  readonly bucket: TokenBucket;
  state: JobState = 'queued';
  stage = 'Waiting';
  startedAt?: number;
  endedAt?: number;
  error?: string;
  errorCode?: ErrorCode;
  totalBytes = 0;
  exactTotal = true;
  sha256?: string;
  attempts = 0;
  stepIndex = -1;
  /** Data bytes credited to progress: finished steps + the best attempt of the current step. */
  private base = 0;
  private stepBest = 0;
  private attemptBytes = 0;
  private countBytes = false;
  private lastProgress = 0;
  /** Settles when the job has ended, whatever the outcome. */
  readonly done: Promise<void>;
  private markDone!: () => void;

  constructor(
    jobId: string,
    readonly spec: JobSpec,
    jobBytesPerSecond: number | null,
    clock: Clock = systemClock,
  ) {
    this.jobId = jobId;
    this.deviceId = spec.deviceId;
    this.meter = new ProgressMeter(3000, clock);
    this.bucket = new TokenBucket(jobBytesPerSecond, clock);
    this.done = new Promise<void>((r) => (this.markDone = r));
  }

  get active(): boolean {
    return ACTIVE_STATES.has(this.state);
  }

  get bytesTransferred(): number {
    return this.base + Math.max(this.stepBest, this.attemptBytes);
  }

  /** A new step starts; `countsBytes` for steps whose data bytes are part of totalBytes (flash). */
  beginStep(index: number, countsBytes: boolean): void {
    this.base = this.bytesTransferred;
    this.stepBest = 0;
    this.attemptBytes = 0;
    this.stepIndex = index;
    this.countBytes = countsBytes;
  }

  /** The current step is tried again: its bytes count from zero, without progress going back. */
  beginAttempt(): void {
    this.stepBest = Math.max(this.stepBest, this.attemptBytes);
    this.attemptBytes = 0;
  }

  /** Bytes of the current step (for per-stage history). */
  get stepBytes(): number {
    return Math.max(this.stepBest, this.attemptBytes);
  }

  moved(n: number): void {
    if (!(n > 0)) return;
    this.meter.add(n);
    if (!this.countBytes) return;
    this.attemptBytes += n;
    if (this.bytesTransferred > this.totalBytes) {
      // An estimated total was too small: grow it (progress is kept from going back below).
      this.totalBytes = this.bytesTransferred;
      this.exactTotal = false;
    }
  }

  progress(): number {
    if (this.state === 'completed') return 100;
    const raw = this.totalBytes > 0 ? (this.bytesTransferred / this.totalBytes) * 100 : 0;
    // 100 is for completion only; an exact total reached early still reads 100 only at the end.
    const capped = Math.min(raw, 99.9);
    this.lastProgress = Math.max(this.lastProgress, capped);
    return round1(this.lastProgress);
  }

  /** Mark the job ended (the caller emits the event and writes history); the stage says how it ended. */
  finish(state: 'completed' | 'failed' | 'cancelled', error?: { code: ErrorCode; message: string }): void {
    this.state = state;
    this.endedAt = Date.now();
    this.stage = finalStage(state, error?.message);
    this.meter.pause();
    if (state === 'completed') this.totalBytes = Math.max(this.totalBytes, this.bytesTransferred);
    if (error) {
      this.error = error.message;
      this.errorCode = error.code;
    }
    this.bucket.dispose();
    this.markDone();
  }

  snapshot(): Job {
    const remaining = Math.max(0, this.totalBytes - this.bytesTransferred);
    const running = this.state === 'running';
    const reading = this.meter.read(remaining);
    const job: Job = {
      jobId: this.jobId,
      deviceId: this.deviceId,
      state: this.state,
      stage: this.stage,
      progress: this.progress(),
      bytesTransferred: this.state === 'completed' ? this.totalBytes : this.bytesTransferred,
      totalBytes: this.totalBytes,
      transferSpeed: running ? Math.round(reading.speed) : 0,
      estimatedTimeRemaining: running || this.state === 'paused' ? round1(reading.eta) : 0,
      createdAt: this.createdAt,
      target: this.spec.target,
    };
    if (this.startedAt !== undefined) job.startedAt = this.startedAt;
    if (this.endedAt !== undefined) job.endedAt = this.endedAt;
    if (this.error !== undefined) job.error = this.error;
    if (this.errorCode !== undefined) job.errorCode = this.errorCode;
    if (this.spec.imageBytes !== undefined) job.imageBytes = this.spec.imageBytes;
    if (this.spec.batchId !== undefined) job.batchId = this.spec.batchId;
    if (this.sha256 !== undefined) job.sha256 = this.sha256;
    // An ended job's speed over its active (unpaused) time: what a finished card shows instead of a live speed.
    if (this.endedAt !== undefined && this.startedAt !== undefined) job.averageSpeed = Math.round(this.meter.averageSpeed());
    return job;
  }
}

/** The stage of an ended job: `Completed`, `Failed: why`, `Cancelled` — never the step it was on. */
export function finalStage(state: 'completed' | 'failed' | 'cancelled', why?: string): string {
  if (state === 'completed') return 'Completed';
  if (state === 'cancelled') return 'Cancelled';
  return `Failed: ${why ?? 'see the job log'}`;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
