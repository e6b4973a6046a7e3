// Orders jobs for display: running, paused, queued (by position), then finished ones newest first.
import type { ActiveJob } from './station-state.js';

const RANK: Record<string, number> = { running: 0, paused: 1, queued: 2, failed: 3, cancelled: 3, completed: 3 };

export function orderJobs(jobs: Iterable<ActiveJob>): ActiveJob[] {
  return [...jobs].sort((a, b) => {
    const r = (RANK[a.state] ?? 9) - (RANK[b.state] ?? 9);
    if (r !== 0) return r;
    if (a.state === 'queued') return (a.queuePosition ?? 1e9) - (b.queuePosition ?? 1e9) || a.createdAt - b.createdAt;
    if (r === 0 && (a.state === 'running' || a.state === 'paused')) return a.createdAt - b.createdAt;
    return (b.endedAt ?? b.updatedAt) - (a.endedAt ?? a.updatedAt);
  });
}
