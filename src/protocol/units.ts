/**
 * Byte sizes as the contract writes them (K, M, G suffixes in powers of 1024, or `0x` hex) and as people read them
 * (`1.5 GiB`). One definition for the CLI, simulators, drivers, images and the UI.
 */

const SIZE_UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };
const NAMES = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/**
 * A byte count: decimal with an optional K/M/G/T suffix (`KiB`/`KB` spellings accepted) or `0x` hex.
 * Throws a RangeError naming `what` when the text is not a whole, non-negative, safe number of bytes.
 */
export function parseSize(text: string, what = 'size'): number {
  const t = text.trim();
  let value: number;
  if (/^0x[0-9a-f]+$/i.test(t)) {
    value = Number.parseInt(t.slice(2), 16);
  } else {
    const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(t);
    if (!m) throw new RangeError(`${what}: "${text}" is not a size (use e.g. 4096, 64K, 16M, 2G or 0x1000)`);
    value = Number(m[1]) * (SIZE_UNITS[(m[2] ?? '').toUpperCase()] ?? 1);
  }
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${what}: "${text}" is not a whole number of bytes (size too large or fractional)`);
  }
  return value;
}

/** `512 B`, `4.00 KiB`, `15.3 MiB`, `256 GiB`; `?` for what is not a byte count. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '?';
  let v = n;
  let i = 0;
  while (v >= 1024 && i < NAMES.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v.toFixed(0) : v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${NAMES[i]}`;
}
