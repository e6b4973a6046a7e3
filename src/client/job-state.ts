// Folds server events into a picture of devices and jobs, the way the station sees them; shared by the client and UI.
import type { BatchSummaryMessage, Device, FlashCompletedMessage, FlashFailedMessage, Job, ServerMessage } from '../protocol/messages.js';

export interface StationState {
  devices: Map<string, Device>;
  jobs: Map<string, Job>;
  /** Many-device batches by batchId: the latest summary (from the snapshot, then batch_summary events). */
  batches: Map<string, BatchSummaryMessage>;
}

export function emptyState(): StationState {
  return { devices: new Map(), jobs: new Map(), batches: new Map() };
}

/** Apply one server message to `state` in place; returns true when something changed. */
export function applyMessage(state: StationState, m: ServerMessage): boolean {
  switch (m.type) {
    case 'snapshot':
      state.devices = new Map(m.devices.map((d) => [d.id, d]));
      state.jobs = new Map(m.jobs.map((j) => [j.jobId, j]));
      state.batches = new Map((m.batches ?? []).map((b) => [b.batchId, b]));
      return true;
    case 'batch_summary':
      state.batches.set(m.batchId, m);
      return true;
    case 'device_attached':
    case 'device_updated':
      state.devices.set(m.device.id, m.device);
      return true;
    case 'device_detached':
      return state.devices.delete(m.deviceId);
    case 'flash_queued':
      state.jobs.set(m.jobId, { ...base(state, m.jobId, m.deviceId, m.timestamp), state: 'queued', stage: `Queued (position ${m.position})`, queuePosition: m.position });
      return true;
    case 'flash_started': {
      const job = unqueued(base(state, m.jobId, m.deviceId, m.timestamp));
      state.jobs.set(m.jobId, { ...job, state: 'running', stage: m.stage ?? job.stage, totalBytes: m.totalBytes, startedAt: m.timestamp,
        ...(m.imageBytes !== undefined ? { imageBytes: m.imageBytes } : {}) });
      return true;
    }
    case 'flash_progress': {
      const job = unqueued(base(state, m.jobId, m.deviceId, m.timestamp));
      state.jobs.set(m.jobId, {
        ...job,
        state: job.state === 'queued' ? 'running' : job.state,
        progress: Math.max(job.progress, m.progress),
        stage: m.stage,
        bytesTransferred: m.bytesTransferred,
        totalBytes: m.totalBytes,
        transferSpeed: m.transferSpeed,
        estimatedTimeRemaining: m.estimatedTimeRemaining,
      });
      return true;
    }
    case 'flash_paused':
    case 'flash_resumed': {
      const job = base(state, m.jobId, m.deviceId, m.timestamp);
      state.jobs.set(m.jobId, { ...job, state: m.type === 'flash_paused' ? 'paused' : 'running' });
      return true;
    }
    case 'flash_completed': {
      const job = unqueued(base(state, m.jobId, m.deviceId, m.timestamp));
      state.jobs.set(m.jobId, { ...job, ...jobEnding(m), progress: 100, transferSpeed: 0, estimatedTimeRemaining: 0, endedAt: m.timestamp });
      return true;
    }
    case 'flash_failed': {
      const job = unqueued(base(state, m.jobId, m.deviceId, m.timestamp));
      state.jobs.set(m.jobId, { ...job, ...jobEnding(m), transferSpeed: 0, estimatedTimeRemaining: 0, endedAt: m.timestamp });
      return true;
    }
    default:
      return false;
  }
}

function base(state: StationState, jobId: string, deviceId: string, timestamp: number): Job {
  return state.jobs.get(jobId) ?? {
    jobId, deviceId, state: 'running', stage: '', progress: 0, bytesTransferred: 0, totalBytes: 0,
    transferSpeed: 0, estimatedTimeRemaining: 0, createdAt: timestamp,
  };
}

/**
 * The job without its queue place, which only a queued job has. Progress frames arrive many times a second per job:
 * copying the job to drop a field it no longer has would be one more object per frame, so only the first one copies.
 */
function unqueued(job: Job): Job {
  if (job.queuePosition === undefined) return job;
  const { queuePosition: _place, ...rest } = job;
  return rest;
}

/** Jobs that have ended (completed, failed or cancelled). */
/**
 * How a job ended, from its last event, as the station's own record says it (the stage Completed / Failed: why /
 * Cancelled; a cancel that left something behind, such as a half-sent download, keeps that as its error). Shared by
 * this reducer and the UI's.
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

export function isFinished(job: Pick<Job, 'state'>): boolean {
  return job.state === 'completed' || job.state === 'failed' || job.state === 'cancelled';
}
