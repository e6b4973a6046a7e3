// The UI's picture of the station, rebuilt from `hello`/`snapshot` and kept current by events: a pure reducer.
import type { BatchSummaryMessage, Device, Job, JobState, LogLevel, ServerMessage } from '../../protocol/messages.js';
import { jobEnding } from '../../client/job-state.js';

/** A job as the UI shows it: the wire Job plus what only events carry. */
export interface ActiveJob extends Job {
  /** Place in the queue while `queued` (from `flash_queued`). */
  queuePosition?: number;
  /** When the UI last heard about this job (ms). */
  updatedAt: number;
}

export interface LogEntry {
  level: LogLevel;
  message: string;
  timestamp: number;
}

export interface StationState {
  version: string;
  authenticated: boolean;
  devices: ReadonlyMap<string, Device>;
  jobs: ReadonlyMap<string, ActiveJob>;
  logs: ReadonlyMap<string, readonly LogEntry[]>;
  /** Finished jobs the user cleared; a later snapshot does not bring them back. */
  cleared: ReadonlySet<string>;
  /** Many-device starts, by batchId, from `batch_summary` and the snapshot. */
  batches: ReadonlyMap<string, BatchSummaryMessage>;
  /** Batches the user dismissed; a later snapshot does not bring them back. */
  clearedBatches: ReadonlySet<string>;
  /** True once a snapshot arrived on the current connection. */
  synced: boolean;
}

export const MAX_LOG_LINES = 500;
export const FINAL_STATES: ReadonlySet<JobState> = new Set(['completed', 'failed', 'cancelled']);

export function emptyState(): StationState {
  return {
    version: '', authenticated: false, devices: new Map(), jobs: new Map(), logs: new Map(), batches: new Map(), cleared: new Set(),
    clearedBatches: new Set(), synced: false,
  };
}

function blankJob(jobId: string, deviceId: string, timestamp: number): ActiveJob {
  return {
    jobId,
    deviceId,
    state: 'queued',
    stage: '',
    progress: 0,
    bytesTransferred: 0,
    totalBytes: 0,
    transferSpeed: 0,
    estimatedTimeRemaining: 0,
    createdAt: timestamp,
    updatedAt: timestamp,
  };
}

function withJob(state: StationState, jobId: string, deviceId: string, timestamp: number, patch: (job: ActiveJob) => ActiveJob): StationState {
  const before = state.jobs.get(jobId) ?? blankJob(jobId, deviceId, timestamp);
  // A finished job never comes back to life from a late progress frame.
  if (FINAL_STATES.has(before.state) && state.jobs.has(jobId)) return state;
  const jobs = new Map(state.jobs);
  jobs.set(jobId, { ...patch(before), updatedAt: timestamp });
  const cleared = state.cleared.has(jobId) ? new Set([...state.cleared].filter((id) => id !== jobId)) : state.cleared;
  return { ...state, jobs, cleared };
}

function finish(state: StationState, jobId: string, deviceId: string, timestamp: number, patch: Partial<ActiveJob>): StationState {
  const before = state.jobs.get(jobId) ?? blankJob(jobId, deviceId, timestamp);
  if (FINAL_STATES.has(before.state) && state.jobs.has(jobId)) return state;
  const jobs = new Map(state.jobs);
  jobs.set(jobId, { ...before, ...patch, endedAt: timestamp, transferSpeed: 0, estimatedTimeRemaining: 0, updatedAt: timestamp });
  return { ...state, jobs };
}

/** Apply one server message. Returns the same object when nothing changed. */
export function reduce(state: StationState, message: ServerMessage): StationState {
  switch (message.type) {
    case 'hello':
      return { ...state, version: message.version, authenticated: message.authenticated, synced: false };
    case 'snapshot': {
      const devices = new Map(message.devices.map((d) => [d.id, d]));
      const jobs = new Map<string, ActiveJob>();
      for (const job of message.jobs) {
        if (state.cleared.has(job.jobId) && FINAL_STATES.has(job.state)) continue;
        const known = state.jobs.get(job.jobId);
        // Older stations do not send queuePosition: keep what flash_queued said.
        const queuePosition = job.state === 'queued' ? (job.queuePosition ?? known?.queuePosition) : undefined;
        jobs.set(job.jobId, { ...job, queuePosition, updatedAt: message.timestamp });
      }
      // Keep finished jobs this page already knew and did not clear, even if the server's list no longer has them
      // (a restarted station starts with an empty list; its history keeps them). A job this page saw running that
      // the station no longer knows was interrupted by the restart: say so rather than let it vanish.
      for (const [id, job] of state.jobs) {
        if (jobs.has(id)) continue;
        if (FINAL_STATES.has(job.state)) jobs.set(id, job);
        else
          jobs.set(id, {
            ...job,
            state: 'failed',
            error: 'Interrupted: the station restarted while this job ran. Flash the device again.',
            errorCode: 'interrupted',
            transferSpeed: 0,
            estimatedTimeRemaining: 0,
            endedAt: message.timestamp,
            updatedAt: message.timestamp,
          });
      }
      const logs = new Map([...state.logs].filter(([id]) => jobs.has(id)));
      // The station's batches (older stations send none: keep what events said).
      const batches = message.batches
        ? new Map(
            [...state.batches]
              .filter(([, b]) => b.running + b.queued === 0)
              .concat(message.batches.map((b) => [b.batchId, b] as [string, BatchSummaryMessage]))
              .filter(([id]) => !state.clearedBatches.has(id)),
          )
        : state.batches;
      return { ...state, devices, jobs, logs, batches, synced: true };
    }
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
        ...j,
        state: 'running',
        stage: message.stage,
        totalBytes: message.totalBytes,
        imageBytes: message.imageBytes ?? j.imageBytes,
        startedAt: j.startedAt ?? message.timestamp,
        queuePosition: undefined,
      }));
    case 'flash_progress':
      return withJob(state, message.jobId, message.deviceId, message.timestamp, (j) => ({
        ...j,
        // A progress frame after a pause is possible (in flight); it does not undo the pause.
        state: j.state === 'paused' ? 'paused' : 'running',
        stage: message.stage,
        progress: Math.max(j.progress, Math.min(100, message.progress)),
        bytesTransferred: message.bytesTransferred,
        totalBytes: message.totalBytes,
        transferSpeed: message.transferSpeed,
        estimatedTimeRemaining: message.estimatedTimeRemaining,
        startedAt: j.startedAt ?? message.timestamp,
        queuePosition: undefined,
      }));
    case 'flash_paused':
      return withJob(state, message.jobId, message.deviceId, message.timestamp, (j) => ({ ...j, state: 'paused', transferSpeed: 0 }));
    case 'flash_resumed':
      return withJob(state, message.jobId, message.deviceId, message.timestamp, (j) => ({ ...j, state: j.startedAt ? 'running' : 'queued' }));
    case 'flash_completed':
      return finish(state, message.jobId, message.deviceId, message.timestamp, { ...jobEnding(message), progress: 100 });
    case 'flash_failed':
      return finish(state, message.jobId, message.deviceId, message.timestamp, jobEnding(message));
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
 * Log lines the station kept (get_job_logs, after a reload or reconnect) merged with the ones this page heard live:
 * in time order, each line once, the newest MAX_LOG_LINES kept.
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

/** Remember what this page asked a job to write (`boot ← /images/boot.img`) where the station's frames do not say. */
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
