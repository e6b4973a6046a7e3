// Batches: the jobs of one many-device request, and their summary (succeeded / failed / cancelled / running / paused / queued).
import type { BatchSummaryMessage, Job } from '../protocol/messages.js';
import type { BatchSummary } from './station-api.js';

interface Batch {
  batchId: string;
  jobIds: string[];
  createdAt: number;
  endedAt?: number;
}

export class Batches {
  private readonly batches = new Map<string, Batch>();
  private readonly maxKept = 200;

  create(batchId: string, jobIds: string[]): void {
    this.batches.set(batchId, { batchId, jobIds, createdAt: Date.now() });
    if (this.batches.size > this.maxKept) {
      for (const [id, b] of this.batches) {
        if (b.endedAt !== undefined) {
          this.batches.delete(id);
          break;
        }
      }
    }
  }

  has(batchId: string): boolean {
    return this.batches.has(batchId);
  }

  ids(): string[] {
    return [...this.batches.keys()];
  }

  summary(batchId: string, job: (id: string) => Job | undefined): BatchSummary | undefined {
    const b = this.batches.get(batchId);
    if (!b) return undefined;
    const s: BatchSummary = {
      batchId, jobIds: [...b.jobIds], total: b.jobIds.length, succeeded: 0, failed: 0, cancelled: 0, running: 0,
      queued: 0, paused: 0, createdAt: b.createdAt,
    };
    for (const id of b.jobIds) {
      const state = job(id)?.state;
      if (state === 'completed') s.succeeded++;
      else if (state === 'failed') s.failed++;
      else if (state === 'cancelled') s.cancelled++;
      else if (state === 'queued') s.queued++;
      else {
        // Running includes paused (as it always has); `paused` says how many of them are on hold.
        s.running++;
        if (state === 'paused') s.paused = (s.paused ?? 0) + 1;
      }
    }
    if (s.running === 0 && s.queued === 0) b.endedAt ??= Date.now();
    if (b.endedAt !== undefined) s.endedAt = b.endedAt;
    return s;
  }

  message(summary: BatchSummary): BatchSummaryMessage {
    return {
      type: 'batch_summary', batchId: summary.batchId, total: summary.total, succeeded: summary.succeeded,
      failed: summary.failed, cancelled: summary.cancelled, running: summary.running, queued: summary.queued,
      paused: summary.paused ?? 0, timestamp: Date.now(),
    };
  }
}
