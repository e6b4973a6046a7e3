// Parsing of the sizes and durations used by simulator specs and flags: `64M`, `0x4000000`, `100us`, `1.5s`.

export { formatBytes, parseSize } from '../protocol/units.js';

/** A duration in milliseconds: `250` (ms), `250ms`, `100us`, `1.5s`. */
export function parseDuration(text: string, what = 'duration'): number {
  const m = /^(\d+(?:\.\d+)?)\s*(us|µs|ms|s)?$/i.exec(text.trim());
  if (!m) throw new RangeError(`${what}: "${text}" is not a duration (use e.g. 500, 500ms, 100us or 2s)`);
  const n = Number(m[1]);
  const unit = (m[2] ?? 'ms').toLowerCase();
  return unit === 's' ? n * 1000 : unit === 'ms' ? n : n / 1000;
}

