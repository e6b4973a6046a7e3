// Which partitions a step really writes: slot suffixes from has-slot / current-slot (`_a`, `_b`, both, current, other).
import { FlashError } from '../../contracts/errors.js';
import type { Session } from './session.js';

export type SlotChoice = 'a' | 'b' | 'all' | 'current' | 'other' | undefined;

/** Pure rule: partitions to write, given what the device says about slots. */
export function resolveTargets(
  partition: string,
  slot: SlotChoice,
  device: { hasSlot: boolean | undefined; currentSlot: string | undefined },
): { targets: string[]; note?: string } {
  if (/_[ab]$/.test(partition) && device.hasSlot !== true) return { targets: [partition] };
  if (device.hasSlot !== true) {
    // `fastboot update` skips the secondary images (system_other.img, …) on devices without slots.
    if (slot === 'other') return { targets: [], note: `${partition} has no A/B slots on this device; an image for the other slot is skipped` };
    if (slot === 'a' || slot === 'b' || slot === 'all') {
      return { targets: [partition], note: `${partition} has no A/B slots on this device; writing ${partition} itself` };
    }
    return { targets: [partition] };
  }
  if (slot === 'all') return { targets: [`${partition}_a`, `${partition}_b`] };
  if (slot === 'a' || slot === 'b') return { targets: [`${partition}_${slot}`] };
  const current = device.currentSlot;
  if (!current) {
    throw new FlashError(
      'target_unsupported',
      `${partition} has A/B slots but the device does not report current-slot; choose slot a, b or all for this step`,
    );
  }
  if (slot === 'other') {
    if (current !== 'a' && current !== 'b') {
      throw new FlashError('target_unsupported', `${partition} has A/B slots but the device reports current-slot "${current}"; the other slot is not known`);
    }
    return { targets: [`${partition}_${current === 'a' ? 'b' : 'a'}`] };
  }
  return { targets: [`${partition}_${current}`] };
}

export async function targetsFor(session: Session, partition: string, slot: SlotChoice, signal?: AbortSignal): Promise<{ targets: string[]; note?: string }> {
  if (/_[ab]$/.test(partition)) return { targets: [partition] };
  const hasSlot = await session.hasSlot(partition, signal);
  const currentSlot = hasSlot ? await session.currentSlot(signal) : undefined;
  return resolveTargets(partition, slot, { hasSlot, currentSlot });
}
