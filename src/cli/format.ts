// Human formatting for the terminal: sizes, speeds, durations and the progress bar line.
import type { Job } from '../protocol/messages.js';
import { formatBytes } from '../protocol/units.js';

export { formatBytes };

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = String(m).padStart(h ? 2 : 1, '0');
  return `${h ? `${h}:` : ''}${mm}:${String(sec).padStart(2, '0')}`;
}

/** ETA for people: `--:--` while it is unknown (nothing moving yet), else as formatDuration. */
export function formatEta(seconds: number, bytesPerSecond: number): string {
  return bytesPerSecond > 0 ? formatDuration(seconds) : '--:--';
}

/** One terminal line: `[#####.....]  45.5%  1.2 GiB / 2.0 GiB  21.3 MiB/s  ETA 0:40  Writing system partition` */
export function progressLine(job: Pick<Job, 'progress' | 'bytesTransferred' | 'totalBytes' | 'transferSpeed' | 'estimatedTimeRemaining' | 'stage'>, width: number): string {
  const pct = Math.max(0, Math.min(100, job.progress));
  const barWidth = Math.max(10, Math.min(40, width - 70));
  const filled = Math.round((pct / 100) * barWidth);
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}]`;
  const line = `${bar} ${pct.toFixed(1).padStart(5)}%  ${formatBytes(job.bytesTransferred)} / ${formatBytes(job.totalBytes)}  ` +
    `${formatBytes(job.transferSpeed)}/s  ETA ${formatEta(job.estimatedTimeRemaining, job.transferSpeed)}  ${job.stage}`;
  return line.length > width - 1 ? line.slice(0, Math.max(0, width - 1)) : line;
}

/** Pads columns of a small table to equal width. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => { widths[i] = Math.max(widths[i] ?? 0, cell.length); });
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n');
}
