// Human formatting of bytes, speeds, durations and times for the UI (binary units, as flashing tools print them).

import { formatBytes as formatByteCount } from '../../protocol/units.js';

/** Bytes for the UI: an em dash where there is no count yet. */
export function formatBytes(n: number): string {
  return Number.isFinite(n) && n >= 0 ? formatByteCount(n) : '—';
}

export function formatSpeed(bytesPerSecond: number): string {
  if (!Number.isFinite(bytesPerSecond) || bytesPerSecond <= 0) return '—';
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** Seconds → `1 h 02 min`, `3 min 05 s`, `42 s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

// Intl formatters are costly to create; make each once (rendering 64 cards several times a second uses them).
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'short', timeStyle: 'medium' });
const clock = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });

export function formatTime(ms: number | undefined): string {
  if (!ms) return '—';
  return dateTime.format(ms);
}

export function formatClock(ms: number): string {
  return clock.format(ms);
}

export function formatPercent(p: number): string {
  return `${Math.max(0, Math.min(100, p)).toFixed(p >= 100 || p === 0 ? 0 : 1)}%`;
}

/** Job state → the visible word of contract §6. */
export function stateWord(state: string): string {
  return state.charAt(0).toUpperCase() + state.slice(1);
}

/** A job's bytes: `12.0 MiB / 60.0 MiB`; before it starts (nothing counted yet) the image size if known, else —. */
export function formatJobBytes(job: { bytesTransferred: number; totalBytes: number; imageBytes?: number }): string {
  if (job.totalBytes > 0 || job.bytesTransferred > 0) return `${formatBytes(job.bytesTransferred)} / ${formatBytes(job.totalBytes)}`;
  return job.imageBytes ? `— / ${formatBytes(job.imageBytes)} image` : '—';
}

/** `system ← /long/path/to/system.img` → `system ← system.img`: what a narrow card has room for (the full path goes in its title). */
export function shortTarget(target: string): string {
  const m = /^(.*) ← (.+)$/.exec(target);
  if (!m) return target;
  const file = m[2]?.split(/[\\/]/).filter(Boolean).pop() ?? m[2];
  return `${m[1]} ← ${file}`;
}
