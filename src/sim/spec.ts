// `--sim PROTOCOL:SERIAL?key=value&…` (contract §5, §7): split once for every family; the fault keys common to all
// simulators are parsed here, the rest go to the family's SimulatorFactory.
import { FlashError } from '../contracts/errors.js';
import type { SimFaults } from '../contracts/simulator.js';
import { parseSize } from './units.js';

export interface SimArgs {
  protocol: string;
  serial: string;
  /** The family's own keys, in the order given (a family may depend on it, e.g. partitions before logical). */
  params: Map<string, string>;
  faults: SimFaults;
}

const SERIAL_RE = /^[A-Za-z0-9._-]{1,64}$/;
export const FAULT_KEYS = ['fail-after', 'disconnect-after', 'stall-after', 'fail-command'] as const;

function bad(spec: string, why: string): never {
  throw new FlashError('bad_request', `Simulator spec "${spec}": ${why}`);
}

/**
 * Set a common fault key (`fail-after`, …) on `faults`; false when `key` is not one. Throws RangeError naming `label`
 * for a bad value.
 */
export function applyFaultKey(faults: SimFaults, key: string, value: string, label = key): boolean {
  switch (key) {
    case 'fail-after':
      faults.failAfter = parseSize(value, label);
      return true;
    case 'disconnect-after':
      faults.disconnectAfter = parseSize(value, label);
      return true;
    case 'stall-after':
      faults.stallAfter = parseSize(value, label);
      return true;
    case 'fail-command':
      if (!value) throw new RangeError(`${label} needs a command name`);
      faults.failCommand = value;
      return true;
    default:
      return false;
  }
}

/** Split a spec; throws FlashError `bad_request` naming what is wrong. */
export function parseSimArgs(spec: string): SimArgs {
  const m = /^([a-z0-9]+):([^?]*)(?:\?(.*))?$/i.exec(spec.trim());
  if (!m) bad(spec, 'expected PROTOCOL:SERIAL[?key=value&…], e.g. PROTOCOL:SIM0001?speed=40M (docs/simulator.md lists each family\'s keys)');
  const [, protocol = '', serial = '', query] = m;
  if (!SERIAL_RE.test(serial)) bad(spec, `serial "${serial}" must be 1-64 letters, digits, '.', '_' or '-'`);
  const params = new Map<string, string>();
  const faults: SimFaults = {};
  for (const kv of (query ?? '').split('&').filter(Boolean)) {
    const i = kv.indexOf('=');
    const key = decodeURIComponent(i < 0 ? kv : kv.slice(0, i)).trim();
    const value = decodeURIComponent(i < 0 ? '' : kv.slice(i + 1)).trim();
    try {
      if (!applyFaultKey(faults, key, value)) params.set(key, value);
    } catch (e) {
      bad(spec, e instanceof Error ? e.message : String(e));
    }
  }
  return { protocol: protocol.toLowerCase(), serial, params, faults };
}
