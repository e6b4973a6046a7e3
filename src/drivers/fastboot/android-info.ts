// android-info.txt of Android factory images: `require` lines checked against the device before writing.
/** A `require` line of a factory image's android-info.txt, e.g. `require board=sailfish|marlin`. */
export interface Requirement {
  /** The device variable to check: `product` for `board`, else the name as written (`version-bootloader`, …). */
  name: string;
  /** Accepted values (any one matches). */
  values: string[];
  /** `require-for-product:X` lines apply only when the device's product is X. */
  forProduct?: string;
}

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

/** Whether the device's `value` is one of `values` (AOSP: exact match, or a prefix match when a value ends in `*`). */
export function requirementMet(values: readonly string[], value: string | undefined): boolean {
  if (value === undefined) return false;
  return values.some((v) => (v.endsWith('*') ? value.startsWith(v.slice(0, -1)) : v === value));
}
