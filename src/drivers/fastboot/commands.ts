// The fastboot `command` steps a plan may hold (set_active, oem, getvar, require, update_super): their checks and stages.
import type { PlanImage } from '../../contracts/plan.js';

export type SetActiveArgs = { slot: 'a' | 'b' };
export type OemArgs = { command: string };
export type GetvarArgs = { name: string; expect?: string };
/** A `require` line of android-info.txt: the device variable must be one of `values` (a trailing `*` is a prefix). */
export type RequireArgs = { name: string; values: string[]; forProduct?: string };
/**
 * Rewrite the logical-partition table of `super` from a liblp `super_empty.img` (AOSP `fastboot update`). `image` is
 * its bytes (factory zips read them when the plan loads) or the bundle's image (read when the step runs).
 */
export type UpdateSuperArgs = {
  image: Uint8Array | PlanImage;
  location?: string;
  wipe?: boolean;
  resetLogical?: Array<{ partition: string; slot?: 'other' }>;
};

export type FastbootCommand =
  | { name: 'set_active'; args: SetActiveArgs }
  | { name: 'oem'; args: OemArgs }
  | { name: 'getvar'; args: GetvarArgs }
  | { name: 'require'; args: RequireArgs }
  | { name: 'update_super'; args: UpdateSuperArgs };

export const COMMAND_NAMES = ['set_active', 'oem', 'getvar', 'require', 'update_super'] as const;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isText = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isPlanImage = (v: unknown): v is PlanImage => isRecord(v) && typeof v.open === 'function' && typeof v.location === 'string';

/** What is wrong with a command step, or undefined when fastboot can run it. */
export function checkFastbootCommand(name: string, args: unknown): string | undefined {
  const a = isRecord(args) ? args : {};
  switch (name) {
    case 'set_active':
      return a.slot === 'a' || a.slot === 'b' ? undefined : 'set_active needs slot "a" or "b"';
    case 'oem':
      return isText(a.command) ? undefined : 'oem needs a command';
    case 'getvar':
      if (!isText(a.name)) return 'getvar needs a variable name';
      return a.expect === undefined || typeof a.expect === 'string' ? undefined : 'getvar expect must be text';
    case 'require':
      if (!isText(a.name)) return 'require needs a variable name';
      if (!Array.isArray(a.values) || a.values.length === 0 || !a.values.every(isText)) return 'require needs a list of accepted values';
      return a.forProduct === undefined || isText(a.forProduct) ? undefined : 'require forProduct must be a product name';
    case 'update_super':
      if (!(a.image instanceof Uint8Array) && !isPlanImage(a.image)) return 'update_super needs the super_empty image';
      return a.wipe === undefined || typeof a.wipe === 'boolean' ? undefined : 'update_super wipe must be true or false';
    default:
      return `fastboot has no command "${name}" (it has: ${COMMAND_NAMES.join(', ')})`;
  }
}

/** A checked command step as the driver runs it (call checkFastbootCommand first; this only narrows the type). */
export function asFastbootCommand(name: string, args: unknown): FastbootCommand {
  return { name, args } as FastbootCommand;
}

/** The stage sentence of a command step, without the `(i/n)` suffix. */
export function fastbootCommandStage(name: string, args: unknown): string | undefined {
  if (checkFastbootCommand(name, args) !== undefined) return undefined;
  const c = asFastbootCommand(name, args);
  switch (c.name) {
    case 'set_active':
      return `Setting active slot ${c.args.slot}`;
    case 'oem':
      return `Running oem ${c.args.command}`;
    case 'getvar':
      return `Checking ${c.args.name}`;
    case 'require':
      return `Checking ${c.args.name} requirement`;
    case 'update_super':
      return 'Updating the super partition table';
  }
}
