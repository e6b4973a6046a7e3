// Settings: defaults, validation with a named field, persistence in DATA_DIR/settings.json (conf / electron-store format).
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, SettingsStore } from '../../../src/core/settings.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'fs-settings-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('SettingsStore', () => {
  it('a settings.json that is not JSON stops the start naming the file, line and column, never its text', () => {
    const d = tmp();
    writeFileSync(join(d, 'settings.json'), '{\n  "slotLimit": 4,\n  "api_key": SECRETKEY-XYZ\n}\n');
    let message = '';
    try {
      new SettingsStore(d);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain(`${join(d, 'settings.json')} is not valid JSON (line 3, column 14)`);
    expect(message).not.toMatch(/SECRETKEY|api_key/);
  });

  it('starts from defaults and persists updates as plain JSON', () => {
    const dir = tmp();
    const s = new SettingsStore(dir);
    expect(s.get()).toEqual(DEFAULT_SETTINGS);
    s.update({ slotLimit: 4, retries: 3, jobBytesPerSecond: 5_000_000 });
    const file = JSON.parse(readFileSync(join(dir, 'settings.json'), 'utf8')) as Record<string, unknown>;
    expect(file.slotLimit).toBe(4);
    expect(file.jobBytesPerSecond).toBe(5_000_000);
    const again = new SettingsStore(dir);
    expect(again.get().retries).toBe(3);
  });

  it('refuses a bad value, naming the field, and keeps the old settings', () => {
    const s = new SettingsStore(tmp());
    expect(() => s.update({ slotLimit: 0 })).toThrow(/slotLimit/);
    expect(() => s.update({ retries: 1.5 })).toThrow(/retries/);
    expect(() => s.update({ stationBytesPerSecond: -1 })).toThrow(/stationBytesPerSecond/);
    expect(() =>
      s.update({ autoFlash: { enabled: true, replugMs: 1000, rules: [{ id: 'r', enabled: true, match: {} }] } }),
    ).toThrow(/plan/);
    expect(s.get().slotLimit).toBe(DEFAULT_SETTINGS.slotLimit);
  });

  it('accepts auto-flash rules and constructor overrides without writing them', () => {
    const dir = tmp();
    const s = new SettingsStore(dir, { slotLimit: 2 });
    expect(s.get().slotLimit).toBe(2);
    s.update({
      autoFlash: { enabled: true, replugMs: 1000, rules: [{ id: 'line1', enabled: true, match: { serial: 'SIM*' }, partition: 'boot', image: '/x.img' }] },
    });
    expect(new SettingsStore(dir).get().autoFlash.rules[0]?.id).toBe('line1');
  });

  it('falls back to defaults when the file was hand-edited into nonsense', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'settings.json'), JSON.stringify({ slotLimit: 'many' }));
    expect(new SettingsStore(dir).get().slotLimit).toBe(DEFAULT_SETTINGS.slotLimit);
  });

  it('refuses keys that are not settings, __proto__ and constructor included, and stores none of them', () => {
    const dir = tmp();
    const s = new SettingsStore(dir);
    for (const body of ['{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"x":1}}}', '{"slotLimit":2,"apiKey":"x"}', '{"autoFlash":{"sneaky":true}}']) {
      expect(() => s.update(JSON.parse(body) as Parameters<SettingsStore['update']>[0]), body).toThrow(/is not a setting/);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(s.get().slotLimit).toBe(DEFAULT_SETTINGS.slotLimit);
    s.update({ retries: 1 });
    const file = readFileSync(join(dir, 'settings.json'), 'utf8');
    expect(file).not.toMatch(/__proto__|constructor|apiKey|sneaky|polluted/);
  });

  it('keeps the known settings of a file that also holds keys it does not know', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'settings.json'), JSON.stringify({ slotLimit: 3, fromTheFuture: 1, autoFlash: { enabled: false, other: 1 } }));
    const s = new SettingsStore(dir);
    expect(s.get().slotLimit).toBe(3);
    expect(s.get().autoFlash.enabled).toBe(false);
    expect(Object.keys(s.get())).not.toContain('fromTheFuture');
  });

  it('writes settings.json readable by its owner only', () => {
    const dir = tmp();
    new SettingsStore(dir).update({ retries: 2 });
    expect(statSync(join(dir, 'settings.json')).mode & 0o777).toBe(0o600);
  });
});
