// The station's settings (GET/PUT /api/settings): slots, retries, waits, bandwidth limits and auto-flash rules.
import { useId, useState } from 'react';
import type { AutoFlashRule, StationSettings } from '../../protocol/settings.js';

/** The settings document of GET/PUT /api/settings (one definition, in src/protocol/settings.ts). */
export type SettingsDoc = StationSettings;
export type RuleDoc = AutoFlashRule;

export function isSettingsDoc(v: unknown): v is SettingsDoc {
  const s = v as SettingsDoc | null;
  return !!s && typeof s.slotLimit === 'number' && typeof s.retries === 'number' && !!s.autoFlash && Array.isArray(s.autoFlash.rules);
}

const MiB = 1024 * 1024;
const toMiB = (n: number | null) => (n === null ? '' : String(Math.round((n / MiB) * 100) / 100));
const fromMiB = (s: string) => (s.trim() === '' ? null : Math.round(Number(s) * MiB));

interface Draft {
  slotLimit: string;
  retries: string;
  retryDelay: string;
  deviceWait: string;
  jobLimit: string;
  stationLimit: string;
  autoEnabled: boolean;
  replug: string;
  rules: RuleDoc[];
}

function draftOf(s: SettingsDoc): Draft {
  return {
    slotLimit: String(s.slotLimit),
    retries: String(s.retries),
    retryDelay: String(s.retryDelayMs / 1000),
    deviceWait: String(s.deviceWaitMs / 1000),
    jobLimit: toMiB(s.jobBytesPerSecond),
    stationLimit: toMiB(s.stationBytesPerSecond),
    autoEnabled: s.autoFlash.enabled,
    replug: String(s.autoFlash.replugMs / 1000),
    rules: s.autoFlash.rules.map((r) => ({ ...r, match: { ...r.match } })),
  };
}

/** The draft as a settings patch, or a sentence saying what is wrong. */
export function patchOf(d: Draft): { patch: SettingsDoc } | { problem: string } {
  const num = (v: string, name: string, min: number) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min) throw new Error(`${name} must be a number of at least ${min}.`);
    return n;
  };
  try {
    for (const [v, name] of [[d.jobLimit, 'Per-job limit'], [d.stationLimit, 'Station limit']] as const) {
      if (v.trim() !== '' && !(Number(v) > 0)) throw new Error(`${name} must be a positive number of MiB/s, or empty for none.`);
    }
    const rules = d.rules.map((r, i) => {
      if (!r.plan && !(r.image && r.partition)) throw new Error(`Rule ${i + 1} needs an image and a partition, or a plan.`);
      const match = Object.fromEntries(Object.entries(r.match).filter(([, v]) => typeof v === 'string' && v.trim() !== ''));
      return { ...r, match };
    });
    return {
      patch: {
        slotLimit: Math.round(num(d.slotLimit, 'Slots', 1)),
        retries: Math.round(num(d.retries, 'Retries', 0)),
        retryDelayMs: Math.round(num(d.retryDelay, 'Retry delay', 0) * 1000),
        deviceWaitMs: Math.round(num(d.deviceWait, 'Device wait', 0) * 1000),
        jobBytesPerSecond: fromMiB(d.jobLimit),
        stationBytesPerSecond: fromMiB(d.stationLimit),
        autoFlash: { enabled: d.autoEnabled, replugMs: Math.round(num(d.replug, 'Replug time', 0) * 1000), rules },
      },
    };
  } catch (e) {
    return { problem: e instanceof Error ? e.message : String(e) };
  }
}

export interface StationSettingsFormProps {
  settings: SettingsDoc;
  onSave: (patch: SettingsDoc) => Promise<void>;
}

export function StationSettingsForm({ settings, onSave }: StationSettingsFormProps) {
  const id = useId();
  const [d, setD] = useState<Draft>(() => draftOf(settings));
  const [problem, setProblem] = useState<string | null>(null);
  const set = (patch: Partial<Draft>) => setD((prev) => ({ ...prev, ...patch }));
  const setRule = (i: number, patch: Partial<RuleDoc>) => set({ rules: d.rules.map((r, j) => (j === i ? { ...r, ...patch } : r)) });
  const setMatch = (i: number, key: 'serial' | 'product', value: string) =>
    set({ rules: d.rules.map((r, j) => (j === i ? { ...r, match: { ...r.match, [key]: value } } : r)) });

  const save = () => {
    const result = patchOf(d);
    if ('problem' in result) return setProblem(result.problem);
    setProblem(null);
    void onSave(result.patch);
  };

  const field = (key: Exclude<keyof Draft, 'autoEnabled' | 'rules'>, label: string, hint: string) => (
    <label className="field">
      <span>{label}</span>
      <input type="number" min="0" step="any" value={d[key]} onChange={(e) => set({ [key]: e.target.value })} />
      <small>{hint}</small>
    </label>
  );

  return (
    <div className="settings-form">
      <div className="settings-grid">
        {field('slotLimit', 'Slots', 'Jobs that run at once, station-wide.')}
        {field('retries', 'Retries', 'Retries of a step after a transient error (device dropped and came back, timeout).')}
        {field('retryDelay', 'Retry delay (s)', 'Pause before a retry.')}
        {field('deviceWait', 'Device wait (s)', 'How long a job waits for a device that is not connected; 0 refuses at once.')}
        {field('jobLimit', 'Per-job limit (MiB/s)', 'Empty: no limit.')}
        {field('stationLimit', 'Station limit (MiB/s)', 'All jobs together. Empty: no limit.')}
      </div>
      <fieldset className="auto-flash">
        <legend>Auto-flash</legend>
        <label className="check">
          <input type="checkbox" checked={d.autoEnabled} onChange={(e) => set({ autoEnabled: e.target.checked })} /> Flash matching devices as soon
          as they are plugged in
        </label>
        {field('replug', 'Replug time (s)', 'A device is flashed again only after it was unplugged this long.')}
        {d.rules.length === 0 ? <p className="muted">No rule yet.</p> : null}
        {d.rules.map((r, i) => (
          <div className="rule" key={r.id} role="group" aria-label={`Rule ${i + 1}`}>
            <label className="check">
              <input type="checkbox" checked={r.enabled} onChange={(e) => setRule(i, { enabled: e.target.checked })} /> On
            </label>
            <label>
              Name <input type="text" value={r.name ?? ''} onChange={(e) => setRule(i, { name: e.target.value })} />
            </label>
            <label>
              Serial pattern <input type="text" placeholder="R58M*" value={r.match.serial ?? ''} onChange={(e) => setMatch(i, 'serial', e.target.value)} />
            </label>
            <label>
              Product pattern <input type="text" placeholder="sargo" value={r.match.product ?? ''} onChange={(e) => setMatch(i, 'product', e.target.value)} />
            </label>
            <label>
              Rule partition <input type="text" value={r.partition ?? ''} onChange={(e) => setRule(i, { partition: e.target.value || undefined })} />
            </label>
            <label>
              Rule file <input type="text" value={r.image ?? ''} onChange={(e) => setRule(i, { image: e.target.value || undefined })} />
            </label>
            <label>
              Rule plan{' '}
              <input
                type="text"
                value={typeof r.plan === 'string' ? r.plan : r.plan ? '(inline plan)' : ''}
                disabled={typeof r.plan === 'object'}
                onChange={(e) => setRule(i, { plan: e.target.value || undefined })}
              />
            </label>
            <button type="button" className="btn small danger" onClick={() => set({ rules: d.rules.filter((_, j) => j !== i) })}>
              Remove rule
            </button>
          </div>
        ))}
        <button
          type="button"
          className="btn"
          id={`${id}-add`}
          onClick={() => set({ rules: [...d.rules, { id: `rule-${Date.now().toString(36)}`, enabled: true, match: {}, name: '' }] })}
        >
          Add rule
        </button>
      </fieldset>
      {problem ? <p role="alert">{problem}</p> : null}
      <button type="button" className="btn primary" onClick={save}>
        Save settings
      </button>
    </div>
  );
}
