// CSV export and per-device / per-image / per-day analytics over the history rows.
import type { AnalyticsQuery, AnalyticsRow } from './station-api.js';
import { EXPORT_PIECE_ROWS, type JobRow } from './history.js';

/** The export's columns, in order (then `duration_ms`). */
export const CSV_COLUMNS: ReadonlyArray<keyof JobRow> = [
  'job_id', 'batch_id', 'device_id', 'device_serial', 'device_name', 'protocol', 'transport', 'port', 'state', 'result',
  'error_code', 'error', 'target', 'image_path', 'image_size', 'image_sha256', 'total_bytes', 'bytes_transferred',
  'avg_speed', 'peak_speed', 'active_ms', 'attempts', 'external', 'created_at', 'started_at', 'ended_at', 'images_json',
];

/** RFC 4180 CSV; timestamps as ISO 8601 UTC plus the raw ms. */
export function toCsv(rows: JobRow[]): string {
  return [...csvChunks(rows.map((r) => CSV_COLUMNS.map((c) => r[c])))].join('');
}

const TIME_COLUMNS = new Set(['created_at', 'started_at', 'ended_at'].map((c) => CSV_COLUMNS.indexOf(c as keyof JobRow)));
const STARTED = CSV_COLUMNS.indexOf('started_at');
const ENDED = CSV_COLUMNS.indexOf('ended_at');

/**
 * The same CSV in pieces of `rowsPerChunk` rows (the header first), so that a server can write a large export with
 * backpressure and let other clients run between pieces instead of building one large string. Each row is the values
 * of CSV_COLUMNS in order (History.pagedValues gives them so).
 */
export function* csvChunks(rows: Iterable<readonly unknown[]>, rowsPerChunk = EXPORT_PIECE_ROWS): Generator<string> {
  yield `${[...CSV_COLUMNS, 'duration_ms'].join(',')}\r\n`;
  let lines: string[] = [];
  for (const r of rows) {
    let line = '';
    for (let i = 0; i < CSV_COLUMNS.length; i++) {
      const v = r[i];
      line += `${csvCell(TIME_COLUMNS.has(i) && typeof v === 'number' ? new Date(v).toISOString() : (v as string | number | null))},`;
    }
    const started = r[STARTED];
    const ended = r[ENDED];
    line += csvCell(typeof started === 'number' && typeof ended === 'number' ? ended - started : null);
    lines.push(line);
    if (lines.length >= rowsPerChunk) {
      yield `${lines.join('\r\n')}\r\n`;
      lines = [];
    }
  }
  if (lines.length) yield `${lines.join('\r\n')}\r\n`;
}

function csvCell(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(1)) : v;
  // Quote when needed; a leading = + - @ is prefixed so spreadsheets do not run it as a formula.
  const safe = /^[=+\-@]/.test(s) && typeof v === 'string' ? `'${s}` : s;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function analytics(rows: JobRow[], query: AnalyticsQuery): AnalyticsRow[] {
  const groups = new Map<string, JobRow[]>();
  for (const r of rows) {
    const key = keyOf(r, query.groupBy);
    const g = groups.get(key);
    if (g) g.push(r);
    else groups.set(key, [r]);
  }
  const out: AnalyticsRow[] = [];
  for (const [key, list] of groups) {
    let succeeded = 0;
    let failed = 0;
    let cancelled = 0;
    let bytes = 0;
    let activeMs = 0;
    const durations: number[] = [];
    for (const r of list) {
      if (r.state === 'completed') succeeded++;
      else if (r.state === 'failed') failed++;
      else if (r.state === 'cancelled') cancelled++;
      else continue;
      bytes += r.bytes_transferred;
      if (r.started_at !== null && r.ended_at !== null) {
        durations.push(r.ended_at - r.started_at);
        activeMs += r.active_ms ?? r.ended_at - r.started_at;
      }
    }
    const ended = succeeded + failed + cancelled;
    out.push({
      key,
      count: list.length,
      succeeded,
      failed,
      cancelled,
      successRate: ended ? succeeded / ended : 0,
      medianDurationMs: median(durations),
      throughput: activeMs > 0 ? (bytes * 1000) / activeMs : 0,
      bytes,
    });
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

function keyOf(r: JobRow, groupBy: AnalyticsQuery['groupBy']): string {
  if (groupBy === 'device') return r.device_id;
  if (groupBy === 'image') return r.image_path ?? r.target ?? '(plan)';
  return new Date(r.created_at).toISOString().slice(0, 10);
}

export function median(values: number[]): number {
  if (!values.length) return 0;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}
