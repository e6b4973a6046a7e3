// Station settings: defaults, validation, and persistence in DATA_DIR/settings.json with `conf` (electron-store's format).
import Conf from 'conf';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseErrorPlace } from '../images/parse-place.js';
import { FlashError } from './errors.js';
import type { AutoFlashRule, DeviceSelector, StationSettings } from './station-api.js';

export type Settings = StationSettings;

export const DEFAULT_SETTINGS: Settings = {
  slotLimit: 16,
  retries: 2,
  retryDelayMs: 1000,
  deviceWaitMs: 0,
  jobBytesPerSecond: null,
  stationBytesPerSecond: null,
  autoFlash: { enabled: true, rules: [], replugMs: 5000 },
};

const SETTING_KEYS: ReadonlySet<string> = new Set(Object.keys(DEFAULT_SETTINGS));
const AUTO_FLASH_KEYS: ReadonlySet<string> = new Set(Object.keys(DEFAULT_SETTINGS.autoFlash));

/** Refuse a key that is not a setting (`__proto__` and `constructor` included): nothing unknown is ever stored. */
function unknownKeys(value: object, known: ReadonlySet<string>, at: string): void {
  for (const key of Object.keys(value)) {
    if (!known.has(key)) throw bad(at === 'settings' ? key.slice(0, 64) : `${at}.${key.slice(0, 64)}`, `is not a setting; the settings are ${[...known].join(', ')}`);
  }
}

/** Only the known keys of a stored settings file (one written by an older or newer version may hold others). */
function knownOnly(stored: Record<string, unknown>): Partial<Settings> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(stored)) if (SETTING_KEYS.has(key)) out[key] = stored[key];
  const auto = out.autoFlash;
  if (typeof auto === 'object' && auto !== null) {
    const a: Record<string, unknown> = {};
    for (const key of Object.keys(auto)) if (AUTO_FLASH_KEYS.has(key)) a[key] = (auto as Record<string, unknown>)[key];
    out.autoFlash = a;
  }
  return out;
}

/** Merge a patch over settings and check every field; throws FlashError `bad_request` naming the bad field. */
export function mergeSettings(base: Settings, patch: Partial<Settings>): Settings {
  if (typeof patch !== 'object' || patch === null) throw bad('settings', 'must be an object');
  unknownKeys(patch, SETTING_KEYS, 'settings');
  if (patch.autoFlash !== undefined) {
    if (typeof patch.autoFlash !== 'object' || patch.autoFlash === null) throw bad('autoFlash', 'must be an object');
    unknownKeys(patch.autoFlash, AUTO_FLASH_KEYS, 'autoFlash');
  }
  const next: Settings = {
    ...base,
    ...patch,
    autoFlash: { ...base.autoFlash, ...(patch.autoFlash ?? {}) },
  };
  int(next.slotLimit, 'slotLimit', 1, 1024);
  int(next.retries, 'retries', 0, 20);
  int(next.retryDelayMs, 'retryDelayMs', 0, 600_000);
  int(next.deviceWaitMs, 'deviceWaitMs', 0, 86_400_000);
  rate(next.jobBytesPerSecond, 'jobBytesPerSecond');
  rate(next.stationBytesPerSecond, 'stationBytesPerSecond');
  if (typeof next.autoFlash.enabled !== 'boolean') throw bad('autoFlash.enabled', 'must be true or false');
  int(next.autoFlash.replugMs, 'autoFlash.replugMs', 0, 3_600_000);
  if (!Array.isArray(next.autoFlash.rules)) throw bad('autoFlash.rules', 'must be a list');
  const ids = new Set<string>();
  next.autoFlash.rules.forEach((r, i) => {
    checkRule(r, `autoFlash.rules[${i}]`);
    if (ids.has(r.id)) throw bad(`autoFlash.rules[${i}].id`, `"${r.id}" is used twice`);
    ids.add(r.id);
  });
  return next;
}

function checkRule(r: AutoFlashRule, at: string): void {
  if (typeof r !== 'object' || r === null) throw bad(at, 'must be an object');
  if (typeof r.id !== 'string' || !r.id) throw bad(`${at}.id`, 'must be a non-empty string');
  if (typeof r.enabled !== 'boolean') throw bad(`${at}.enabled`, 'must be true or false');
  checkSelector(r.match, `${at}.match`);
  if (r.plan === undefined && (typeof r.image !== 'string' || typeof r.partition !== 'string')) {
    throw bad(at, 'needs either `plan` or both `partition` and `image`');
  }
}

export function checkSelector(s: DeviceSelector | undefined, at: string): void {
  if (typeof s !== 'object' || s === null) throw bad(at, 'must be an object');
  for (const key of ['protocol', 'transport', 'state', 'serial', 'product'] as const) {
    const v = s[key];
    if (v !== undefined && typeof v !== 'string') throw bad(`${at}.${key}`, 'must be a string');
  }
}

function int(v: unknown, name: string, min: number, max: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw bad(name, `must be a whole number from ${min} to ${max}`);
  }
}

function rate(v: unknown, name: string): void {
  if (v === null) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 1) throw bad(name, 'must be null (unlimited) or bytes per second ≥ 1');
}

function bad(field: string, why: string): FlashError {
  return new FlashError('bad_request', `Setting ${field} ${why}.`);
}

/** Settings kept in DATA_DIR/settings.json. Values given to the constructor override the file for this run. */
export class SettingsStore {
  private readonly conf: Conf<Settings>;
  private current: Settings;

  constructor(dataDir: string, overrides: Partial<Settings> = {}) {
    this.conf = openConf(dataDir);
    let stored: Settings;
    try {
      stored = mergeSettings(DEFAULT_SETTINGS, knownOnly(this.conf.store as unknown as Record<string, unknown>));
    } catch {
      // A hand-edited file with a bad value: start from defaults rather than refuse to start.
      stored = DEFAULT_SETTINGS;
    }
    this.current = mergeSettings(stored, overrides);
  }

  get(): Settings {
    return structuredClone(this.current);
  }

  update(patch: Partial<Settings>): Settings {
    const next = mergeSettings(this.current, patch);
    this.current = next;
    this.conf.store = next;
    return this.get();
  }

  get path(): string {
    return this.conf.path;
  }
}

/**
 * settings.json through `conf`. A file that is not JSON (a hand edit gone wrong) stops the start with a message that
 * names the file, line and column: never the parser's own message, which quotes the text (it may hold secrets).
 */
function openConf(dataDir: string): Conf<Settings> {
  try {
    return new Conf<Settings>({ cwd: dataDir, configName: 'settings', defaults: DEFAULT_SETTINGS, configFileMode: 0o600 });
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    const path = join(dataDir, 'settings.json');
    let place = 'its text';
    try {
      place = parseErrorPlace(e, readFileSync(path, 'utf8'));
    } catch {
      // (unreadable now: say only that it does not parse)
    }
    throw new Error(`${path} is not valid JSON (${place}). Fix it there, or remove the file to start with the default settings.`);
  }
}
