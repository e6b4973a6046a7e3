// Fastboot variables: `getvar:all` lines into a map, and the partition table and device facts drawn from it.
import type { PartitionInfo } from '../../protocol/messages.js';
import { isYes, normaliseSlot, parseNumber } from './protocol.js';

/** Variables that take a sub-key: `partition-size:system:0x40000000`. */
const KEYED = /^(partition-size|partition-type|is-logical|has-slot|slot-successful|slot-unbootable|slot-retry-count)\s*:\s*([^:\s]+)\s*:\s*(.*)$/;

/** One INFO line of `getvar:all` → `[name, value]` (keyed variables keep their sub-key in the name). */
export function parseVarLine(line: string): [string, string] | undefined {
  const t = line.trim();
  const keyed = KEYED.exec(t);
  if (keyed) return [`${keyed[1]}:${keyed[2]}`, (keyed[3] ?? '').trim()];
  const i = t.indexOf(':');
  if (i <= 0) return undefined;
  return [t.slice(0, i).trim(), t.slice(i + 1).trim()];
}

export function parseVarLines(lines: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of lines) {
    const kv = parseVarLine(line);
    if (kv && !out.has(kv[0])) out.set(kv[0], kv[1]);
  }
  return out;
}

/** Partitions with their sizes, from `partition-size:NAME` entries, in the order the device listed them. */
export function partitionsFrom(vars: ReadonlyMap<string, string>): PartitionInfo[] {
  const out: PartitionInfo[] = [];
  for (const [k, v] of vars) {
    if (!k.startsWith('partition-size:')) continue;
    const size = parseNumber(v, { assumeHex: true });
    if (size === undefined) continue;
    out.push({ name: k.slice('partition-size:'.length), size });
  }
  return out;
}

export interface SlotInfo {
  count: number;
  current?: string;
}

export function slotsFrom(vars: ReadonlyMap<string, string>): SlotInfo {
  const count = parseNumber(vars.get('slot-count')) ?? 0;
  const current = normaliseSlot(vars.get('current-slot'));
  return current ? { count, current } : { count };
}

/** A partition that exists as NAME_a / NAME_b on this device. */
export function hasSlot(vars: ReadonlyMap<string, string>, partition: string): boolean | undefined {
  const v = vars.get(`has-slot:${partition}`);
  if (v !== undefined) return isYes(v);
  if (vars.has(`partition-size:${partition}_a`) || vars.has(`partition-size:${partition}_b`)) return true;
  if (vars.has(`partition-size:${partition}`)) return false;
  return undefined;
}

/** Device facts for `Device.info`: the variables people look at, numbers as numbers, yes/no as booleans. */
export function infoFrom(vars: ReadonlyMap<string, string>, maxDownload: number | undefined): Record<string, string | number | boolean> {
  const info: Record<string, string | number | boolean> = {};
  const text = ['product', 'variant', 'serialno', 'version', 'version-bootloader', 'version-baseband', 'hw-revision', 'current-slot', 'battery-soc-ok', 'off-mode-charge'];
  for (const k of text) {
    const v = vars.get(k);
    if (v !== undefined && v !== '') info[k] = k === 'current-slot' ? (normaliseSlot(v) ?? v) : v;
  }
  for (const k of ['secure', 'unlocked', 'is-userspace']) {
    const v = vars.get(k);
    if (v !== undefined && v !== '') info[k] = isYes(v);
  }
  const slotCount = parseNumber(vars.get('slot-count'));
  if (slotCount !== undefined) info['slot-count'] = slotCount;
  if (maxDownload !== undefined) info['max-download-size'] = maxDownload;
  const fetch = parseNumber(vars.get('max-fetch-size'));
  if (fetch !== undefined) info['max-fetch-size'] = fetch;
  return info;
}
