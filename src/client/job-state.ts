// The one reducer of the station's picture (devices, jobs, batches, logs) from hello/snapshot and events, for the SDK,
// the CLI and the UI alike: pure, it returns the same object when a message changes nothing.
import type { BatchSummaryMessage, Device, FlashCompletedMessage, FlashFailedMessage, Job, JobState, LogLevel, ServerMessage } from '../protocol/messages.js';

/** A job as a client knows it: the wire Job plus when it last heard of it. */
export interface ActiveJob extends Job {
  /** When this client last heard about the job (ms, the message's timestamp). */
  updatedAt: number;
}

export interface LogEntry {
  level: LogLevel;
  message: string;
  timestamp: number;
}

export interface StationState {
  /** The station's version and whether this connection is authenticated, from `hello`. */
  version: string;
  authenticated: boolean;
  devices: ReadonlyMap<string, Device>;
  jobs: ReadonlyMap<string, ActiveJob>;
  /** `flash_log` lines per job (the newest MAX_LOG_LINES). */
  logs: ReadonlyMap<string, readonly LogEntry[]>;
  /** Finished jobs the user cleared; a later snapshot does not bring them back. */
  cleared: ReadonlySet<string>;
  /** Many-device batches by batchId: the latest summary (from the snapshot, then batch_summary events). */
  batches: ReadonlyMap<string, BatchSummaryMessage>;
  /** Batches the user dismissed; a later snapshot does not bring them back. */
  clearedBatches: ReadonlySet<string>;
  /** True once a snapshot arrived on the current connection; false again when it closes. */
  synced: boolean;
}

export const MAX_LOG_LINES = 500;
/**
 * Finished jobs kept (the newest by end time); older ones are forgotten, as history keeps them. Each event copies the
 * jobs map, so a client that runs for days (watch, a wall display) must not let it grow: with 10 000 finished jobs a
 * progress frame cost 5 ms, with 1 000 0.06 ms (docs/benchmarks.md).
 */
export const MAX_FINISHED_JOBS = 500;
export const FINAL_STATES: ReadonlySet<JobState> = new Set(['completed', 'failed', 'cancelled']);

/** What a job that the station no longer knows after a restart shows, until history says more. */
export const INTERRUPTED_ERROR = 'Interrupted: the station restarted while this job ran. Flash the device again.';

export function emptyState(): StationState {
  return {
    version: '', authenticated: false, devices: new Map(), jobs: new Map(), logs: new Map(), batches: new Map(), cleared: new Set(),
    clearedBatches: new Set(), synced: false,
  };
}

/** Jobs that have ended (completed, failed or cancelled). */
export function isFinished(job: Pick<Job, 'state'>): boolean {
  return FINAL_STATES.has(job.state);
}

function blankJob(jobId: string, deviceId: string, timestamp: number): ActiveJob {
  return {
    jobId, deviceId, state: 'queued', stage: '', progress: 0, bytesTransferred: 0, totalBytes: 0, transferSpeed: 0,
    estimatedTimeRemaining: 0, createdAt: timestamp, updatedAt: timestamp,
  };
}

/** The job without its queue place, which only a queued job has (the key stays, undefined, as JSON drops it). */
function unqueued<J extends Job>(job: J): J {
  return job.queuePosition === undefined ? job : { ...job, queuePosition: undefined };
}

function withJob(state: StationState, jobId: string, deviceId: string, timestamp: number, patch: (job: ActiveJob) => ActiveJob): StationState {
  const before = state.jobs.get(jobId) ?? blankJob(jobId, deviceId, timestamp);
  // A finished job never comes back to life from a late frame.
  if (FINAL_STATES.has(before.state) && state.jobs.has(jobId)) return state;
  const jobs = new Map(state.jobs);
  jobs.set(jobId, { ...patch(before), updatedAt: timestamp });
  const cleared = state.cleared.has(jobId) ? new Set([...state.cleared].filter((id) => id !== jobId)) : state.cleared;
  return { ...state, jobs, cleared };
}

function finish(state: StationState, m: FlashCompletedMessage | FlashFailedMessage): StationState {
  const before = state.jobs.get(m.jobId) ?? blankJob(m.jobId, m.deviceId, m.timestamp);
  if (FINAL_STATES.has(before.state) && state.jobs.has(m.jobId)) return state;
  const jobs = new Map(state.jobs);
  const progress = m.type === 'flash_completed' ? { progress: 100 } : {};
  jobs.set(m.jobId, {
    ...unqueued(before), ...jobEnding(m), ...progress, endedAt: m.timestamp, transferSpeed: 0, estimatedTimeRemaining: 0, updatedAt: m.timestamp,
  });
  return capFinished({ ...state, jobs });
}

/** Forget the oldest finished jobs (and their logs) past MAX_FINISHED_JOBS. Runs when a job ends, not per frame. */
function capFinished(state: StationState): StationState {
  const finished = [...state.jobs.values()].filter((j) => FINAL_STATES.has(j.state));
  if (finished.length <= MAX_FINISHED_JOBS) return state;
  finished.sort((a, b) => (a.endedAt ?? a.updatedAt) - (b.endedAt ?? b.updatedAt));
  const drop = new Set(finished.slice(0, finished.length - MAX_FINISHED_JOBS).map((j) => j.jobId));
  const jobs = new Map([...state.jobs].filter(([id]) => !drop.has(id)));
  const logs = [...state.logs.keys()].some((id) => drop.has(id)) ? new Map([...state.logs].filter(([id]) => !drop.has(id))) : state.logs;
  return { ...state, jobs, logs };
}

/**
 * How a job ended, from its last event, as the station's own record says it (the stage Completed / Failed: why /
 * Cancelled; a cancel that left something behind, such as a half-sent download, keeps that as its error).
 */
export function jobEnding(m: FlashCompletedMessage | FlashFailedMessage): Pick<Job, 'state' | 'stage' | 'error' | 'errorCode'> {
  if (m.type === 'flash_completed') return { state: 'completed', stage: 'Completed' };
  const cancelled = m.reason === 'cancelled';
  const errorCode = m.code ?? (cancelled ? 'cancelled' : undefined);
  return {
    state: cancelled ? 'cancelled' : 'failed',
    stage: cancelled ? 'Cancelled' : `Failed: ${m.error}`,
    error: cancelled && m.detail ? m.detail : m.error,
    ...(errorCode !== undefined ? { errorCode } : {}),
  };
}

function applySnapshot(state: StationState, message: Extract<ServerMessage, { type: 'snapshot' }>): StationState {
  const devices = new Map(message.devices.map((d) => [d.id, d]));
  const jobs = new Map<string, ActiveJob>();
  for (const job of message.jobs) {
    if (state.cleared.has(job.jobId) && FINAL_STATES.has(job.state)) continue;
    const known = state.jobs.get(job.jobId);
    // Older stations do not send queuePosition: keep what flash_queued said.
    const queuePosition = job.state === 'queued' ? (job.queuePosition ?? known?.queuePosition) : undefined;
    const wire = unqueued(job);
    jobs.set(job.jobId, { ...wire, ...(queuePosition !== undefined ? { queuePosition } : {}), updatedAt: message.timestamp });
  }
  // Keep finished jobs already known and not cleared, even if the station's list no longer has them (a restarted
  // station starts with an empty list; its history keeps them). A job seen running that the station no longer knows
  // was interrupted by the restart: say so rather than let it vanish (history has the station's word on it).
  for (const [id, job] of state.jobs) {
    if (jobs.has(id)) continue;
    if (FINAL_STATES.has(job.state)) jobs.set(id, job);
    else {
      jobs.set(id, {
        ...unqueued(job), state: 'failed', stage: 'Failed: interrupted', error: INTERRUPTED_ERROR, errorCode: 'interrupted', transferSpeed: 0,
        estimatedTimeRemaining: 0, endedAt: message.timestamp, updatedAt: message.timestamp,
      });
    }
  }
  const logs = new Map([...state.logs].filter(([id]) => jobs.has(id)));
  // The station's batches, plus finished ones already known (older stations send none: keep what events said).
  const batches = message.batches
    ? new Map(
        [...state.batches]
          .filter(([, b]) => b.running + b.queued === 0)
          .concat(message.batches.map((b) => [b.batchId, b] as [string, BatchSummaryMessage]))
          .filter(([id]) => !state.clearedBatches.has(id)),
      )
    : state.batches;
  return capFinished({ ...state, devices, jobs, logs, batches, synced: true });
}

/** Apply one server message. Returns the same object when nothing changed. */
export function reduce(state: StationState, message: ServerMessage): StationState {
  switch (message.type) {
    case 'hello':
      return { ...state, version: message.version, authenticated: message.authenticated, synced: false };
    case 'snapshot':
      return applySnapshot(state, message);
    case 'device_attached':
    case 'device_updated': {
      const devices = new Map(state.devices);
      devices.set(message.device.id, message.device);
      return { ...state, devices };
    }
    case 'device_detached': {
      if (!state.devices.has(message.deviceId)) return state;
      const devices = new Map(state.devices);
      devices.delete(message.deviceId);
      return { ...state, devices };
    }
    case 'flash_queued':
      return withJob(state, message.jobId, message.deviceId, message.timestamp, (j) => ({ ...j, state: 'queued', queuePosition: message.position }));
    case 'flash_started':
      return withJob(state, message.jobId, message.deviceId, message.timestamp, (j) => ({
        ...unqueued(j),
        state: 'running',
        stage: message.stage ?? j.stage,
        totalBytes: message.totalBytes,
        ...(message.imageBytes !== undefined ? { imageBytes: message.imageBytes } : {}),
        startedAt: j.startedAt ?? message.timestamp,
      }));
    case 'flash_progress':
      return withJob(state, message.jobId, message.deviceId, message.timestamp, (j) => ({
        ...unqueued(j),
        // A progress frame after a pause is possible (in flight); it does not undo the pause.
        state: j.state === 'paused' ? 'paused' : 'running',
        stage: message.stage,
        progress: Math.max(j.progress, Math.min(100, message.progress)),
        bytesTransferred: message.bytesTransferred,
        totalBytes: message.totalBytes,
        transferSpeed: message.transferSpeed,
        estimatedTimeRemaining: message.estimatedTimeRemaining,
        startedAt: j.startedAt ?? message.timestamp,
      }));
    case 'flash_paused':
      return withJob(state, message.jobId, message.deviceId, message.timestamp, (j) => ({ ...j, state: 'paused', transferSpeed: 0 }));
    case 'flash_resumed':
      return withJob(state, message.jobId, message.deviceId, message.timestamp, (j) => ({ ...j, state: j.startedAt ? 'running' : 'queued' }));
    case 'flash_completed':
    case 'flash_failed':
      return finish(state, message);
    case 'batch_summary': {
      if (state.clearedBatches.has(message.batchId)) return state;
      const batches = new Map(state.batches);
      batches.set(message.batchId, message);
      return { ...state, batches };
    }
    case 'flash_log': {
      const logs = new Map(state.logs);
      const lines = [...(logs.get(message.jobId) ?? []), { level: message.level, message: message.message, timestamp: message.timestamp }];
      logs.set(message.jobId, lines.length > MAX_LOG_LINES ? lines.slice(-MAX_LOG_LINES) : lines);
      return { ...state, logs };
    }
    default:
      return state;
  }
}

/**
 * The same reducer for code that keeps one state object and reads it in place (the SDK's original form): applies the
 * message to `state` itself and returns true when something changed.
 */
export function applyMessage(state: StationState, message: ServerMessage): boolean {
  const next = reduce(state, message);
  if (next === state) return false;
  Object.assign(state, next);
  return true;
}

/** The connection closed: what was heard stays, but it is no longer known to be current. */
export function unsynced(state: StationState): StationState {
  return state.synced ? { ...state, synced: false } : state;
}

/**
 * Log lines the station kept (get_job_logs, after a reload or reconnect) merged with the ones heard live: in time
 * order, each line once, the newest MAX_LOG_LINES kept.
 */
export function mergeLogs(state: StationState, fetched: Readonly<Record<string, readonly LogEntry[]>>): StationState {
  let logs: Map<string, readonly LogEntry[]> | null = null;
  for (const [jobId, lines] of Object.entries(fetched)) {
    if (!state.jobs.has(jobId) || lines.length === 0) continue;
    const have = state.logs.get(jobId) ?? [];
    const key = (l: LogEntry) => `${l.timestamp}\u0000${l.level}\u0000${l.message}`;
    const seen = new Set(lines.map(key));
    const merged = [...lines, ...have.filter((l) => !seen.has(key(l)))].sort((a, b) => a.timestamp - b.timestamp);
    if (merged.length === have.length) continue;
    logs ??= new Map(state.logs);
    logs.set(jobId, merged.slice(-MAX_LOG_LINES));
  }
  return logs ? { ...state, logs } : state;
}

/** Forget a finished batch the user dismissed (it stays gone after a reconnect). */
export function clearBatch(state: StationState, batchId: string): StationState {
  const batches = new Map(state.batches);
  batches.delete(batchId);
  return { ...state, batches, clearedBatches: new Set([...state.clearedBatches, batchId]) };
}

/** Forget one job the user dismissed (finished jobs stay gone after a reconnect). */
export function clearJob(state: StationState, jobId: string): StationState {
  if (!state.jobs.has(jobId)) return state;
  const jobs = new Map(state.jobs);
  const job = jobs.get(jobId);
  jobs.delete(jobId);
  const logs = new Map(state.logs);
  logs.delete(jobId);
  const cleared = job && FINAL_STATES.has(job.state) ? new Set([...state.cleared, jobId]) : state.cleared;
  return { ...state, jobs, logs, cleared };
}

export function clearAllJobs(state: StationState): StationState {
  const cleared = new Set(state.cleared);
  for (const [id, job] of state.jobs) if (FINAL_STATES.has(job.state)) cleared.add(id);
  return { ...state, jobs: new Map(), logs: new Map(), batches: new Map(), cleared, clearedBatches: new Set([...state.clearedBatches, ...state.batches.keys()]) };
}

/** Remember what a client asked a job to write (`boot ← /images/boot.img`) where the station's frames do not say. */
export function annotateJobs(state: StationState, jobIds: readonly string[], target: string): StationState {
  let jobs: Map<string, ActiveJob> | null = null;
  for (const id of jobIds) {
    const job = state.jobs.get(id);
    if (!job || job.target) continue;
    jobs ??= new Map(state.jobs);
    jobs.set(id, { ...job, target });
  }
  return jobs ? { ...state, jobs } : state;
}
