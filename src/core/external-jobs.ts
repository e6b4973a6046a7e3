// Outside agents' own jobs (contract §2.3 last row): each event is rebuilt from the contract's fields (capped), folded
// into a job record, kept in history and rebroadcast; a job that goes silent ends as lost, and one that ended stays so.
import { isErrorCode } from '../contracts/errors.js';
import type { FlashEventMessage, Job, ServerMessage } from '../protocol/messages.js';
import { systemClock, type Clock } from './clock.js';
import { FlashError } from './errors.js';
import type { History } from './history.js';
import { JobRecord } from './job-record.js';

const TYPES = new Set(['flash_started', 'flash_progress', 'flash_completed', 'flash_failed', 'flash_paused', 'flash_resumed']);
/** Longest id, stage and error text an outside event may carry; longer text is cut, never forwarded whole. */
export const MAX_ID = 128;
export const MAX_STAGE = 256;
export const MAX_ERROR = 1024;

export interface ExternalJobsOptions {
  /** An outside job with no event for this long ends as failed with code `lost` (default 2 minutes). */
  silenceMs?: number;
  /** Running or paused outside jobs one publisher (one connection) may hold at once (default 64). */
  maxPerPublisher?: number;
  /** Running or paused outside jobs over all publishers (default 1024). */
  maxActive?: number;
  /** Ended outside jobs kept in memory for snapshots (history keeps them all). */
  maxEnded?: number;
  clock?: Clock;
  /** Where the `flash_failed` of a lost job goes (the station's event bus). */
  emit?: (message: ServerMessage) => void;
}

interface Entry {
  job: Job;
  publisher: string;
  lastEventAt: number;
  lastWriteAt: number;
  /** Its history writes: a store fault (a corrupt page, a full disk) is a warning, never a lost event. */
  record: JobRecord;
}

const FINAL = new Set(['completed', 'failed', 'cancelled']);

export class ExternalJobs {
  private readonly jobs = new Map<string, Entry>();
  private readonly silenceMs: number;
  private readonly maxPerPublisher: number;
  private readonly maxActive: number;
  private readonly maxEnded: number;
  private readonly clock: Clock;
  private sweepHandle: unknown;

  constructor(
    private readonly history: History,
    /** True when the station itself runs (or ran) a job with this id. */
    private readonly isStationJob: (jobId: string) => boolean,
    private readonly options: ExternalJobsOptions = {},
  ) {
    this.silenceMs = options.silenceMs ?? 120_000;
    this.maxPerPublisher = options.maxPerPublisher ?? 64;
    this.maxActive = options.maxActive ?? 1024;
    this.maxEnded = options.maxEnded ?? 200;
    this.clock = options.clock ?? systemClock;
  }

  list(): Job[] {
    return [...this.jobs.values()].map((e) => e.job);
  }

  get(jobId: string): Job | undefined {
    return this.jobs.get(jobId)?.job;
  }

  /** Running or paused outside jobs. */
  get active(): number {
    let n = 0;
    for (const e of this.jobs.values()) if (!FINAL.has(e.job.state)) n++;
    return n;
  }

  /**
   * Check an event, fold it into its job and return the message to broadcast: a new object holding only the
   * contract's fields for its type, whatever else the agent sent. `publisher` names the connection it came from.
   */
  accept(message: FlashEventMessage, publisher = 'anonymous'): FlashEventMessage {
    const now = this.clock.now();
    const msg = rebuildEvent(message, Date.now());
    const known = this.jobs.get(msg.jobId);
    if (known) {
      if (known.job.deviceId !== msg.deviceId) {
        throw new FlashError('bad_request', `Job ${msg.jobId} was published for device ${known.job.deviceId}, not ${msg.deviceId}.`);
      }
      if (FINAL.has(known.job.state)) throw ended(msg.jobId, known.job.state);
    } else {
      if (this.isStationJob(msg.jobId)) {
        throw new FlashError('forbidden', `Job ${msg.jobId} is run by the station itself; outside agents may only publish their own jobs.`);
      }
      const row = this.history.row(msg.jobId);
      if (row && FINAL.has(row.state)) throw ended(msg.jobId, row.state);
      this.checkRoom(publisher);
    }
    const entry = known ?? this.create(msg, publisher, now);
    entry.lastEventAt = now;
    this.apply(entry, msg, now);
    this.scheduleSweep();
    return msg;
  }

  /** End every outside job silent for longer than the limit as `lost`; returns how many ended. */
  sweep(): number {
    const now = this.clock.now();
    let n = 0;
    for (const entry of this.jobs.values()) {
      if (FINAL.has(entry.job.state) || now - entry.lastEventAt < this.silenceMs) continue;
      const seconds = Math.round(this.silenceMs / 1000);
      const event: FlashEventMessage = {
        type: 'flash_failed', jobId: entry.job.jobId, deviceId: entry.job.deviceId,
        error: `Lost: the outside agent sent no event for this job for ${seconds} s.`, reason: 'error', code: 'lost',
        timestamp: Date.now(),
      };
      this.apply(entry, event, now);
      this.options.emit?.(event);
      n++;
    }
    this.prune();
    return n;
  }

  close(): void {
    if (this.sweepHandle !== undefined) this.clock.clearTimeout(this.sweepHandle);
    this.sweepHandle = undefined;
  }

  private checkRoom(publisher: string): void {
    let mine = 0;
    let all = 0;
    for (const e of this.jobs.values()) {
      if (FINAL.has(e.job.state)) continue;
      all++;
      if (e.publisher === publisher) mine++;
    }
    if (mine >= this.maxPerPublisher) {
      throw new FlashError('rate_limited', `This connection already publishes ${mine} running outside jobs (at most ${this.maxPerPublisher}); end some with flash_completed or flash_failed first.`);
    }
    if (all >= this.maxActive) {
      throw new FlashError('rate_limited', `The station already follows ${all} running outside jobs (at most ${this.maxActive}); end some first.`);
    }
  }

  private create(msg: FlashEventMessage, publisher: string, now: number): Entry {
    const wall = Date.now();
    const job: Job = {
      jobId: msg.jobId, deviceId: msg.deviceId, state: 'running', stage: '', progress: 0, bytesTransferred: 0,
      totalBytes: 0, transferSpeed: 0, estimatedTimeRemaining: 0, createdAt: wall, startedAt: wall, target: 'outside agent',
    };
    const record = new JobRecord(this.history, job.jobId, (message) => this.options.emit?.({
      type: 'flash_log', jobId: job.jobId, deviceId: job.deviceId, level: 'warn', message, timestamp: Date.now(),
    }));
    const entry: Entry = { job, publisher, lastEventAt: now, lastWriteAt: 0, record };
    this.jobs.set(job.jobId, entry);
    this.prune();
    if (this.history.has(job.jobId)) {
      record.update({ state: 'running', ended_at: null });
    } else {
      record.insert({
        job_id: job.jobId, device_id: job.deviceId, state: 'running', created_at: wall, started_at: wall, external: 1,
        target: 'outside agent',
      });
    }
    return entry;
  }

  /** Keep at most `maxEnded` ended jobs in memory, dropping the oldest first. */
  private prune(): void {
    let ended = 0;
    for (const e of this.jobs.values()) if (FINAL.has(e.job.state)) ended++;
    for (const [id, e] of this.jobs) {
      if (ended <= this.maxEnded) break;
      if (!FINAL.has(e.job.state)) continue;
      this.jobs.delete(id);
      ended--;
    }
  }

  private scheduleSweep(): void {
    if (this.sweepHandle !== undefined) return;
    const every = Math.max(1000, Math.min(15_000, this.silenceMs / 4));
    const tick = (): void => {
      this.sweepHandle = undefined;
      this.sweep();
      if (this.active > 0) this.scheduleSweep();
    };
    this.sweepHandle = this.clock.setTimeout(tick, every);
    (this.sweepHandle as { unref?: () => void } | undefined)?.unref?.();
  }

  private apply(entry: Entry, msg: FlashEventMessage, now: number): void {
    const job = entry.job;
    let final = false;
    switch (msg.type) {
      case 'flash_started':
        job.state = 'running';
        job.stage = msg.stage;
        job.totalBytes = msg.totalBytes;
        if (msg.imageBytes !== undefined) job.imageBytes = msg.imageBytes;
        break;
      case 'flash_progress':
        job.state = 'running';
        job.progress = Math.max(job.progress, msg.progress);
        job.stage = msg.stage;
        job.bytesTransferred = msg.bytesTransferred;
        job.totalBytes = msg.totalBytes;
        job.transferSpeed = msg.transferSpeed;
        job.estimatedTimeRemaining = msg.estimatedTimeRemaining;
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
        job.error = msg.detail ?? msg.error;
        if (msg.code !== undefined) job.errorCode = msg.code;
        final = true;
        break;
    }
    if (final) {
      job.endedAt = Date.now();
      this.prune();
    }
    if (final || msg.type !== 'flash_progress' || now - entry.lastWriteAt >= 1000) {
      entry.lastWriteAt = now;
      // Through the job's record: a write that fails is reported, and the event (a final one too) still goes out.
      entry.record.update({
        state: job.state, stage: job.stage, total_bytes: job.totalBytes, bytes_transferred: job.bytesTransferred,
        ...(final ? { ended_at: job.endedAt, result: job.state, error: job.error ?? null, error_code: job.errorCode ?? null } : {}),
        ...(job.transferSpeed > 0 ? { avg_speed: job.transferSpeed } : {}),
      });
    }
  }
}

function ended(jobId: string, state: string): FlashError {
  return new FlashError('invalid_state', `Outside job ${jobId} already ended (${state}); publish a new jobId for a new job.`);
}

/**
 * A fresh event holding only the contract's fields for its type: ids checked, text cut to its cap, numbers finite
 * and not negative, progress within 0–100. Whatever else the agent sent (nested objects, extra keys) is dropped.
 */
export function rebuildEvent(message: FlashEventMessage, nowMs: number): FlashEventMessage {
  const m = message as unknown as Record<string, unknown>;
  const type = m.type;
  if (typeof type !== 'string' || !TYPES.has(type)) throw new FlashError('bad_request', 'Only flash_* job events can be published.');
  const jobId = id(m.jobId, 'jobId');
  const deviceId = id(m.deviceId, 'deviceId');
  const timestamp = typeof m.timestamp === 'number' && Number.isFinite(m.timestamp) && m.timestamp > 0 ? m.timestamp : nowMs;
  const base = { jobId, deviceId, timestamp };
  switch (type) {
    case 'flash_started': {
      const out: FlashEventMessage = { type, ...base, stage: text(m.stage, MAX_STAGE, ''), totalBytes: count(m.totalBytes) };
      if (typeof m.imageBytes === 'number') out.imageBytes = count(m.imageBytes);
      return out;
    }
    case 'flash_progress':
      return {
        type, ...base, progress: Math.min(100, count(m.progress)), stage: text(m.stage, MAX_STAGE, ''),
        bytesTransferred: count(m.bytesTransferred), totalBytes: count(m.totalBytes), transferSpeed: count(m.transferSpeed),
        estimatedTimeRemaining: count(m.estimatedTimeRemaining),
      };
    case 'flash_failed': {
      const out: FlashEventMessage = { type, ...base, error: text(m.error, MAX_ERROR, 'Failed') };
      if (m.reason === 'cancelled' || m.reason === 'error' || m.reason === 'interrupted') out.reason = m.reason;
      if (isErrorCode(m.code)) out.code = m.code;
      if (typeof m.detail === 'string') out.detail = text(m.detail, MAX_ERROR, '');
      return out;
    }
    case 'flash_completed':
      return { type, ...base };
    case 'flash_paused':
      return { type, ...base };
    default:
      return { type: 'flash_resumed', ...base };
  }
}

function id(v: unknown, name: string): string {
  if (typeof v !== 'string' || !v || v.length > MAX_ID) throw new FlashError('bad_request', `\`${name}\` must be a non-empty string (≤ ${MAX_ID} characters).`);
  return v;
}

function count(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0;
}

function text(v: unknown, max: number, fallback: string): string {
  return typeof v === 'string' ? v.slice(0, max) : fallback;
}
