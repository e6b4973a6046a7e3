// `getvar` of the simulated device: every variable AOSP fastboot and our host ask for, and `getvar:all`.
import type { SimMode, SimPartition } from './config.js';

/** What `getvar` reads from the device. */
export interface VariableSource {
  readonly serial: string;
  readonly product: string;
  readonly mode: SimMode;
  readonly slots: boolean;
  readonly currentSlot: 'a' | 'b';
  readonly unlocked: boolean;
  readonly maxDownloadSize: number;
  readonly versionBootloader: string;
  readonly versionBaseband: string;
  readonly partitions: readonly SimPartition[];
  slotState(slot: 'a' | 'b'): { successful: boolean; unbootable: boolean; retryCount: number };
}

export type VarResult = { ok: true; value: string } | { ok: false; message: string };

const ok = (value: string): VarResult => ({ ok: true, value });
const fail = (message: string): VarResult => ({ ok: false, message });
const yesNo = (b: boolean): string => (b ? 'yes' : 'no');
const hex = (n: number): string => `0x${n.toString(16).toUpperCase()}`;

/** Partitions visible in the current mode: logical ones only from userspace fastbootd. */
export function visiblePartitions(src: VariableSource): SimPartition[] {
  return src.partitions.filter((p) => !p.logical || src.mode === 'fastbootd');
}

function findPartition(src: VariableSource, name: string | undefined): SimPartition | undefined {
  if (!name) return undefined;
  return visiblePartitions(src).find((p) => p.name === name);
}

function slotArg(arg: string | undefined): 'a' | 'b' | undefined {
  const s = arg?.replace(/^_/, '');
  return s === 'a' || s === 'b' ? s : undefined;
}

type Handler = (src: VariableSource, args: string[]) => VarResult;

const HANDLERS: Record<string, Handler> = {
  version: () => ok('0.4'),
  'version-bootloader': (s) => ok(s.versionBootloader),
  'version-baseband': (s) => ok(s.versionBaseband),
  'version-os': () => ok('flashsim'),
  product: (s) => ok(s.product),
  variant: () => ok('SIM'),
  serialno: (s) => ok(s.serial),
  'hw-revision': () => ok('rev1'),
  secure: () => ok('yes'),
  unlocked: (s) => ok(yesNo(s.unlocked)),
  'off-mode-charge': () => ok('0'),
  'battery-voltage': () => ok('4200'),
  'battery-soc-ok': () => ok('yes'),
  'max-download-size': (s) => ok(hex(s.maxDownloadSize)),
  'is-userspace': (s) => ok(yesNo(s.mode === 'fastbootd')),
  'slot-count': (s) => ok(s.slots ? '2' : '0'),
  'current-slot': (s) => (s.slots ? ok(s.currentSlot) : fail('Device does not support slots')),
  'slot-successful': (s, [a]) => {
    const slot = slotArg(a);
    if (!s.slots) return fail('Device does not support slots');
    return slot ? ok(yesNo(s.slotState(slot).successful)) : fail(`Invalid slot "${a ?? ''}"`);
  },
  'slot-unbootable': (s, [a]) => {
    const slot = slotArg(a);
    if (!s.slots) return fail('Device does not support slots');
    return slot ? ok(yesNo(s.slotState(slot).unbootable)) : fail(`Invalid slot "${a ?? ''}"`);
  },
  'slot-retry-count': (s, [a]) => {
    const slot = slotArg(a);
    if (!s.slots) return fail('Device does not support slots');
    return slot ? ok(String(s.slotState(slot).retryCount)) : fail(`Invalid slot "${a ?? ''}"`);
  },
  'has-slot': (s, [name]) => {
    if (!name) return fail('Missing argument');
    // Slotted-ness is known in every mode, logical partitions included.
    return ok(yesNo(s.slots && s.partitions.some((p) => p.name === `${name}_${s.currentSlot}`)));
  },
  'partition-size': (s, [name]) => {
    const p = findPartition(s, name);
    return p ? ok(hex(p.size)) : fail(`Unknown partition "${name ?? ''}"`);
  },
  'partition-type': (s, [name]) => {
    const p = findPartition(s, name);
    return p ? ok(p.type) : fail(`Unknown partition "${name ?? ''}"`);
  },
  'is-logical': (s, [name]) => {
    // The bootloader knows which names live in super (so the host can switch to fastbootd), not their size.
    const p = s.partitions.find((q) => q.name === name);
    return p ? ok(yesNo(p.logical)) : fail(`Unknown partition "${name ?? ''}"`);
  },
  'super-partition-name': (s) => (s.mode === 'fastbootd' ? ok('super') : fail('Unknown variable')),
  'snapshot-update-status': () => ok('none'),
};

/** `getvar:NAME[:ARG…]`. Unknown variables FAIL, as current AOSP devices do. */
export function getVar(src: VariableSource, name: string, args: string[]): VarResult {
  const h = Object.hasOwn(HANDLERS, name) ? HANDLERS[name] : undefined;
  return h ? h(src, args) : fail('Unknown variable');
}

/** The lines of `getvar:all` (each sent as `INFO` + line): `name:value`, or `name:arg:value` per partition/slot. */
export function allVariables(src: VariableSource): string[] {
  const lines: string[] = [];
  const perPartition = new Set(['partition-size', 'partition-type', 'is-logical']);
  const perSlot = new Set(['slot-successful', 'slot-unbootable', 'slot-retry-count']);
  const bases = [...new Set(visiblePartitions(src).map((p) => p.base))];
  for (const name of Object.keys(HANDLERS)) {
    let argLists: string[][] = [[]];
    if (perPartition.has(name)) argLists = visiblePartitions(src).map((p) => [p.name]);
    else if (perSlot.has(name)) argLists = src.slots ? [['a'], ['b']] : [];
    else if (name === 'has-slot') argLists = bases.map((b) => [b]);
    for (const args of argLists) {
      const r = getVar(src, name, args);
      if (r.ok) lines.push([name, ...args, r.value].join(':'));
    }
  }
  return lines;
}
