// The snapshot frame: every device, every active or recent job (queued ones with their place), the recent batches.
import type { StationApi } from '../core/station-api.js';
import type { BatchSummaryMessage, SnapshotMessage } from '../protocol/messages.js';

/** Batches a snapshot carries: the newest ones, enough for any UI's batch bar. */
const SNAPSHOT_BATCHES = 20;

export function snapshotOf(station: StationApi): SnapshotMessage {
  const batches: BatchSummaryMessage[] = station
    .batches()
    .sort((a, b) => a.createdAt - b.createdAt)
    .slice(-SNAPSHOT_BATCHES)
    .map((b) => ({
      type: 'batch_summary', batchId: b.batchId, total: b.total, succeeded: b.succeeded, failed: b.failed, cancelled: b.cancelled,
      running: b.running, queued: b.queued, paused: b.paused ?? 0, timestamp: b.endedAt ?? b.createdAt,
    }));
  return { type: 'snapshot', devices: station.devices(), jobs: station.jobs(), timestamp: Date.now(), batches };
}
