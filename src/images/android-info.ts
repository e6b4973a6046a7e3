// android-info.txt of Android factory images: `require` lines checked against the device before writing.
import type { Requirement } from './types.js';

/**
 * Parse android-info.txt. `require board=a|b` checks the device's `product`; `require NAME=v1|v2` checks variable
 * NAME (`version-bootloader`, `version-baseband`, `partition-exists`, …); `require-for-product:P NAME=…` applies only
 * to product P. Other lines are ignored, as AOSP fastboot does.
 */
export function parseAndroidInfo(text: string): Requirement[] {
  const out: Requirement[] = [];
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^require(?:-for-product:(\S+))?\s+([^=\s]+)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    const [, forProduct, rawName = '', rawValues = ''] = m;
    const name = rawName === 'board' ? 'product' : rawName;
    const values = rawValues.split('|').map((v) => v.trim()).filter((v) => v.length > 0);
    if (values.length === 0) continue;
    out.push(forProduct ? { name, values, forProduct } : { name, values });
  }
  return out;
}

/** Whether `value` satisfies a requirement (AOSP: exact match, or a prefix match when the wanted value ends in `*`). */
export function requirementMet(req: Requirement, value: string | undefined): boolean {
  if (value === undefined) return false;
  return req.values.some((v) => (v.endsWith('*') ? value.startsWith(v.slice(0, -1)) : v === value));
}
