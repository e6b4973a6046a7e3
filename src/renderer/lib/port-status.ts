// What one device tile says at a glance: the port's state (ready, waiting, flashing, done — unplug, failed) and counters.
import type { Device, JobState } from '../../protocol/messages.js';

export type PortTone = 'ready' | 'wait' | 'busy' | 'paused' | 'ok' | 'bad';

export interface PortStatus {
  tone: PortTone;
  /** One short line, e.g. `✓ Done — unplug`, `Flashing · 45%`. Never a bare job-state word (those belong to job cards). */
  label: string;
  /** Why, for failures and errors; the partition count for a ready device. */
  detail?: string;
}

export interface PortCounters {
  succeeded: number;
  failed: number;
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v : undefined;
}

/** The tile's status from the device's station-owned info keys and the page's view of its current job. */
export function portStatus(device: Device, job?: { state: JobState; percent: number; queuePosition?: number }): PortStatus {
  if (job?.state === 'running') return { tone: 'busy', label: `Flashing · ${job.percent}%` };
  if (job?.state === 'paused') return { tone: 'paused', label: `Paused · ${job.percent}%` };
  if (job?.state === 'queued') {
    return { tone: 'wait', label: job.queuePosition !== undefined ? `Waiting · #${job.queuePosition} in queue` : 'Waiting for a free slot' };
  }
  const station = text(device.info.station);
  const message = text(device.info.stationMessage);
  if (station === 'flashing') return { tone: 'busy', label: 'Flashing' };
  if (station === 'done') return { tone: 'ok', label: `✓ ${message ?? 'Done — unplug'}` };
  if (station === 'failed') {
    return { tone: 'bad', label: '✗ Failed', detail: message?.replace(/^Failed\s*[—:-]\s*/, '') ?? 'See the job for the reason.' };
  }
  if (device.state === 'error') return { tone: 'bad', label: '✗ Device error', detail: text(device.info.error) ?? 'The station could not talk to it; replug it.' };
  if (device.state === 'busy') return { tone: 'wait', label: 'Busy — identifying' };
  const parts = device.partitions?.length;
  return { tone: 'ready', label: 'Ready', ...(parts ? { detail: `${parts} partition${parts === 1 ? '' : 's'}` } : {}) };
}

/** Per-port succeeded/failed counters the station keeps in `info`, when it has any. */
export function portCounters(device: Device): PortCounters | undefined {
  const s = device.info.stationSucceeded;
  const f = device.info.stationFailed;
  if (typeof s !== 'number' && typeof f !== 'number') return undefined;
  return { succeeded: typeof s === 'number' ? s : 0, failed: typeof f === 'number' ? f : 0 };
}
