// Orders jobs for display: unfinished ones in a fixed order (when created, then device), so a card never moves while
// it is active and a second click lands where the first did; then finished ones, most recently ended first.
import type { ActiveJob } from './station-state.js';

const FINISHED = new Set(['completed', 'failed', 'cancelled']);
const byDevice = (a: ActiveJob, b: ActiveJob) => a.deviceId.localeCompare(b.deviceId, undefined, { numeric: true }) || a.jobId.localeCompare(b.jobId);

export function orderJobs(jobs: Iterable<ActiveJob>): ActiveJob[] {
  return [...jobs].sort((a, b) => {
    const fa = FINISHED.has(a.state);
    const fb = FINISHED.has(b.state);
    if (fa !== fb) return fa ? 1 : -1;
    if (!fa) return a.createdAt - b.createdAt || byDevice(a, b);
    return (b.endedAt ?? b.updatedAt) - (a.endedAt ?? a.updatedAt) || byDevice(a, b);
  });
}

/** The queue page: jobs holding a slot (running or paused, in a fixed order), then waiting ones by queue position. */
export function orderQueue(jobs: Iterable<ActiveJob>): ActiveJob[] {
  return orderJobs(jobs).sort((a, b) => {
    const qa = a.state === 'queued';
    const qb = b.state === 'queued';
    if (qa !== qb) return qa ? 1 : -1;
    return qa ? (a.queuePosition ?? Infinity) - (b.queuePosition ?? Infinity) : 0;
  });
}
