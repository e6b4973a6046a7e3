// Parsing of the sizes and durations used by simulator specs and flags: `64M`, `0x4000000`, `100us`, `1.5s`.

const SIZE_UNITS: Record<string, number> = { '': 1, B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/**
 * A byte count: decimal with an optional K/M/G/T suffix (powers of 1024, `KiB`/`KB` spellings accepted) or `0x` hex.
 * Throws a RangeError naming `what` when the text is not a whole, non-negative, safe integer.
 */
export function parseSize(text: string, what = 'size'): number {
  const t = text.trim();
  let value: number;
  if (/^0x[0-9a-f]+$/i.test(t)) {
    value = Number.parseInt(t.slice(2), 16);
  } else {
    const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(t);
    if (!m) throw new RangeError(`${what}: "${text}" is not a size (use e.g. 4096, 64K, 16M, 2G or 0x1000)`);
    const unit = SIZE_UNITS[(m[2] ?? '').toUpperCase()] ?? 1;
    value = Number(m[1]) * unit;
  }
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${what}: "${text}" is not a whole number of bytes`);
  }
  return value;
}

/** A duration in milliseconds: `250` (ms), `250ms`, `100us`, `1.5s`. */
export function parseDuration(text: string, what = 'duration'): number {
  const m = /^(\d+(?:\.\d+)?)\s*(us|µs|ms|s)?$/i.exec(text.trim());
  if (!m) throw new RangeError(`${what}: "${text}" is not a duration (use e.g. 500, 500ms, 100us or 2s)`);
  const n = Number(m[1]);
  const unit = (m[2] ?? 'ms').toLowerCase();
  return unit === 's' ? n * 1000 : unit === 'ms' ? n : n / 1000;
}

/** `1.5 GiB`-style text for messages. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1).replace(/\.0+$/, '')} ${units[i]}`;
}
