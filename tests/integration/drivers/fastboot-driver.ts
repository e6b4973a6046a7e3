// Drives the fastboot family directly, as the driver tests were written: `describe(link)` is its probe, and `run`
// takes the fastboot step shapes of those tests (partition/slot/target, set_active, oem, …) as the family's steps.
import type { Candidate, JobContext, PlanStep } from '../../../src/contracts/family.js';
import type { DeviceLink } from '../../../src/contracts/links.js';
import type { LoadedStep, PlanImage } from '../../../src/contracts/plan.js';
import type { BlockSource } from '../../../src/contracts/source.js';
import { createFastbootFamily, type DriverTimeouts } from '../../../src/drivers/fastboot/index.js';

export type FastbootTestStep =
  | PlanStep
  | { op: 'flash'; partition: string; source: BlockSource; slot?: string }
  | { op: 'verify'; partition: string; source: BlockSource }
  | { op: 'erase'; partition: string }
  | { op: 'reboot'; target: string }
  | { op: 'set_active'; slot: 'a' | 'b' }
  | { op: 'oem'; command: string }
  | { op: 'getvar'; name: string; expect?: string }
  | { op: 'require'; name: string; values: string[] }
  | { op: 'update_super'; image: Uint8Array; location: string; wipe: boolean; resetLogical?: Array<{ partition: string; slot?: 'other' }> };

const TEST_CANDIDATE: Candidate = { kind: 'network', key: 'test', transport: 'tcp', scheme: 'tcp', host: 'test' };

export function toPlanStep(s: FastbootTestStep): PlanStep {
  const x = s as Record<string, unknown> & { op: string };
  if ((x.op === 'flash' || x.op === 'verify' || x.op === 'erase') && typeof x.partition === 'string') {
    const { op, partition, slot, ...rest } = x;
    return { ...rest, op, target: { partition }, ...(typeof slot === 'string' ? { options: { slot } } : {}) } as PlanStep;
  }
  if (x.op === 'reboot' && typeof x.target === 'string') return { op: 'reboot', mode: x.target };
  if (['set_active', 'oem', 'getvar', 'require', 'update_super'].includes(x.op)) {
    const { op, ...args } = x;
    return { op: 'command', name: op, args };
  }
  return s as PlanStep;
}

export function createFastbootDriver(timeouts: Partial<DriverTimeouts> = {}): {
  describe(link: DeviceLink, signal?: AbortSignal): ReturnType<ReturnType<typeof createFastbootFamily>['probe']>;
  run(link: DeviceLink, step: FastbootTestStep, ctx: JobContext): Promise<void>;
} {
  const family = createFastbootFamily({ timeouts });
  return {
    describe: (link, signal) => family.probe(link, TEST_CANDIDATE, signal ?? new AbortController().signal),
    run: (link, step, ctx) => family.run(link, toPlanStep(step), ctx),
  };
}

/** A loaded step in the fastboot shapes the plan tests check (partition/slot, reboot target, commands as ops). */
export type LegacyStep =
  | { op: 'flash'; partition: string; slot?: string; image: PlanImage }
  | { op: 'verify'; partition: string; image: PlanImage }
  | { op: 'erase'; partition: string }
  | { op: 'reboot'; target: string }
  | { op: 'wait_for_device'; timeoutMs: number }
  | { op: 'update_super'; image: Uint8Array; location: string; wipe: boolean; resetLogical?: Array<{ partition: string; slot?: 'other' }> }
  | { op: 'require'; name: string; values: string[]; forProduct?: string }
  | { op: 'set_active'; slot: string }
  | { op: 'oem'; command: string }
  | { op: 'getvar'; name: string; expect?: string };

export function legacy(s: LoadedStep): LegacyStep {
  if (s.op === 'flash' || s.op === 'verify' || s.op === 'erase') {
    const partition = 'partition' in s.target ? s.target.partition : `${JSON.stringify(s.target)}`;
    const slot = s.options?.slot;
    if (s.op === 'erase') return { op: 'erase', partition };
    if (s.op === 'verify') return { op: 'verify', partition, image: s.image };
    return { op: 'flash', partition, image: s.image, ...(typeof slot === 'string' ? { slot } : {}) };
  }
  if (s.op === 'reboot') return { op: 'reboot', target: s.mode ?? 'system' };
  if (s.op === 'wait_for_device') return s;
  const args = (s.args ?? {}) as Record<string, unknown>;
  if (s.name === 'update_super') {
    const image = args.image instanceof Uint8Array ? args.image : new Uint8Array(0);
    const location = typeof args.location === 'string' ? args.location : String((args.image as PlanImage | undefined)?.location ?? '');
    return { ...(args as object), op: 'update_super', image, location, wipe: args.wipe === true };
  }
  return { ...args, op: s.name } as LegacyStep;
}
