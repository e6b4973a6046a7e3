// What a simulated device remembers across restarts besides its partition files: the active slot, the lock state and
// its logical partitions (as a real device keeps them in misc and super metadata). Stored as DIR/device-state.json.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SimPartition } from './config.js';

export interface DeviceState {
  version: 1;
  currentSlot: 'a' | 'b';
  unlocked: boolean;
  /** Every logical partition by name, with its size (created ones included). */
  logical: Record<string, number>;
  /** Logical partitions the host deleted. */
  deleted: string[];
}

export function statePath(dir: string): string {
  return join(dir, 'device-state.json');
}

/** The saved state, or undefined when there is none (or it cannot be read: a fresh device). */
export async function loadState(dir: string): Promise<DeviceState | undefined> {
  try {
    const s = JSON.parse(await readFile(statePath(dir), 'utf8')) as Partial<DeviceState>;
    if (s.version !== 1) return undefined;
    return {
      version: 1,
      currentSlot: s.currentSlot === 'b' ? 'b' : 'a',
      unlocked: s.unlocked !== false,
      logical: typeof s.logical === 'object' && s.logical ? s.logical : {},
      deleted: Array.isArray(s.deleted) ? s.deleted.filter((x): x is string => typeof x === 'string') : [],
    };
  } catch {
    return undefined;
  }
}

export async function saveState(dir: string, state: DeviceState): Promise<void> {
  const tmp = `${statePath(dir)}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`);
  await rename(tmp, statePath(dir));
}

/** Apply saved logical partition sizes, creations and deletions to the configured table. */
export function applyLogical(partitions: SimPartition[], state: DeviceState): SimPartition[] {
  const out = partitions.filter((p) => !(p.logical && state.deleted.includes(p.name)));
  for (const p of out) {
    const size = state.logical[p.name];
    if (p.logical && typeof size === 'number' && Number.isSafeInteger(size) && size >= 0) p.size = size;
  }
  for (const [name, size] of Object.entries(state.logical)) {
    if (out.some((p) => p.name === name) || !Number.isSafeInteger(size) || size < 0) continue;
    const slot = /_([ab])$/.exec(name)?.[1] as 'a' | 'b' | undefined;
    out.push({ name, base: slot ? name.slice(0, -2) : name, size, type: 'raw', logical: true, ...(slot ? { slot } : {}) });
  }
  return out;
}
