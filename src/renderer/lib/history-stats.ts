// Figures for the history page, computed from finished jobs: throughput over time and success rates per device and
// per image. Pure functions, so the charts show exactly what the tests check.
import type { Job } from '../../protocol/messages.js';

export interface ThroughputPoint {
  /** Bucket start, Unix ms. */
  t: number;
  /** Data bytes written by jobs that ended in this bucket. */
  bytes: number;
  /** Mean of the per-job average speeds (bytes/s) of completed jobs in this bucket, 0 if none. */
  speed: number;
  jobs: number;
}

export interface RateRow {
  key: string;
  completed: number;
  failed: number;
  cancelled: number;
  /** completed / (completed + failed); cancelled jobs do not count against the device or image. */
  rate: number;
}

/** The image a job wrote, from its `target` (`boot ← /images/boot.img` → `/images/boot.img`), else `(unknown)`. */
export function imageOf(job: Job): string {
  const t = job.target;
  if (!t) return '(unknown)';
  const arrow = t.lastIndexOf('←');
  return (arrow >= 0 ? t.slice(arrow + 1) : t).trim() || '(unknown)';
}

/** History rows as the table heads them: most recently ended first (a job without an end by its creation). */
export function newestEndedFirst<T extends Job>(jobs: readonly T[]): T[] {
  return [...jobs].sort((a, b) => (b.endedAt ?? b.createdAt) - (a.endedAt ?? a.createdAt) || b.createdAt - a.createdAt);
}

/** The CSV export's address for the filters the station can apply (device, outcome). */
export function historyCsvHref(filter: { deviceId?: string; state?: string }): string {
  const q = new URLSearchParams();
  if (filter.deviceId) q.set('deviceId', filter.deviceId);
  if (filter.state) q.set('state', filter.state);
  const qs = q.toString();
  return `/api/history.csv${qs ? `?${qs}` : ''}`;
}

/** Average data rate of a finished job, bytes/s (0 when unknown). */
export function jobSpeed(job: Job): number {
  if (job.startedAt === undefined || job.endedAt === undefined || job.endedAt <= job.startedAt) return 0;
  return job.bytesTransferred / ((job.endedAt - job.startedAt) / 1000);
}

/** A bucket width that gives at most `maxBuckets` buckets over the span: 1 min, 5 min, 15 min, 1 h, 6 h, 1 day, 1 week. */
export function bucketWidth(spanMs: number, maxBuckets = 48): number {
  const steps = [60e3, 300e3, 900e3, 3600e3, 6 * 3600e3, 86400e3, 7 * 86400e3];
  for (const s of steps) if (spanMs / s <= maxBuckets) return s;
  return steps[steps.length - 1] ?? 86400e3;
}

export function throughputOverTime(jobs: readonly Job[], maxBuckets = 48): ThroughputPoint[] {
  const done = jobs.filter((j) => j.endedAt !== undefined);
  if (done.length === 0) return [];
  const ends = done.map((j) => j.endedAt ?? 0);
  const min = Math.min(...ends);
  const max = Math.max(...ends);
  const width = bucketWidth(max - min, maxBuckets);
  const start = Math.floor(min / width) * width;
  const n = Math.floor((max - start) / width) + 1;
  const points: ThroughputPoint[] = Array.from({ length: n }, (_, i) => ({ t: start + i * width, bytes: 0, speed: 0, jobs: 0 }));
  const speeds: number[][] = Array.from({ length: n }, () => []);
  for (const j of done) {
    const i = Math.floor(((j.endedAt ?? 0) - start) / width);
    const p = points[i];
    if (!p) continue;
    p.bytes += j.bytesTransferred;
    p.jobs++;
    const s = j.state === 'completed' ? jobSpeed(j) : 0;
    if (s > 0) speeds[i]?.push(s);
  }
  points.forEach((p, i) => {
    const s = speeds[i] ?? [];
    p.speed = s.length ? s.reduce((a, b) => a + b, 0) / s.length : 0;
  });
  return points;
}

export function successRates(jobs: readonly Job[], keyOf: (job: Job) => string): RateRow[] {
  const rows = new Map<string, RateRow>();
  for (const j of jobs) {
    if (j.state !== 'completed' && j.state !== 'failed' && j.state !== 'cancelled') continue;
    const key = keyOf(j);
    const row = rows.get(key) ?? { key, completed: 0, failed: 0, cancelled: 0, rate: 0 };
    row[j.state]++;
    rows.set(key, row);
  }
  for (const row of rows.values()) row.rate = row.completed + row.failed > 0 ? row.completed / (row.completed + row.failed) : 0;
  return [...rows.values()].sort((a, b) => b.completed + b.failed - (a.completed + a.failed) || a.key.localeCompare(b.key));
}

export interface HistoryFilter {
  deviceId?: string;
  state?: string;
  image?: string;
  from?: number;
  to?: number;
}

export function filterJobs(jobs: readonly Job[], f: HistoryFilter): Job[] {
  const needle = f.image?.trim().toLowerCase();
  return jobs.filter(
    (j) =>
      (!f.deviceId || j.deviceId === f.deviceId) &&
      (!f.state || j.state === f.state) &&
      (!needle || imageOf(j).toLowerCase().includes(needle) || (j.target ?? '').toLowerCase().includes(needle)) &&
      (f.from === undefined || (j.endedAt ?? j.createdAt) >= f.from) &&
      (f.to === undefined || (j.endedAt ?? j.createdAt) <= f.to),
  );
}

/** A row of the station's `GET /api/analytics?groupBy=device|image` (src/core/station-api.ts AnalyticsRow). */
export interface AnalyticsRowLike {
  key: string;
  succeeded: number;
  failed: number;
  cancelled: number;
}

/** Station analytics → chart rows, with the same rate rule as `successRates` (cancellations do not count). */
export function fromAnalytics(rows: readonly AnalyticsRowLike[]): RateRow[] {
  return rows
    .filter((r) => r.succeeded + r.failed + r.cancelled > 0)
    .map((r) => ({
      key: r.key || '(unknown)',
      completed: r.succeeded,
      failed: r.failed,
      cancelled: r.cancelled,
      rate: r.succeeded + r.failed > 0 ? r.succeeded / (r.succeeded + r.failed) : 0,
    }))
    .sort((a, b) => b.completed + b.failed - (a.completed + a.failed) || a.key.localeCompare(b.key));
}
