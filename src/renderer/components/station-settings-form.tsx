// Edits whatever settings the station exposes: numbers, switches and texts as fields, lists and objects as JSON.
import { useState } from 'react';

export interface StationSettingsFormProps {
  settings: Record<string, unknown>;
  onSave(patch: Record<string, unknown>): Promise<void>;
}

function label(key: string): string {
  return key.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/^./, (c) => c.toUpperCase());
}

export function StationSettingsForm({ settings, onSave }: StationSettingsFormProps) {
  const [draft, setDraft] = useState<Record<string, string | boolean>>(() =>
    Object.fromEntries(
      Object.entries(settings).map(([k, v]) => [k, typeof v === 'boolean' ? v : typeof v === 'object' ? JSON.stringify(v, null, 2) : String(v ?? '')]),
    ),
  );
  const [problem, setProblem] = useState<string | null>(null);

  const save = () => {
    const patch: Record<string, unknown> = {};
    for (const [k, orig] of Object.entries(settings)) {
      const v = draft[k];
      if (typeof orig === 'boolean') patch[k] = v === true;
      else if (typeof orig === 'number' || orig === null) {
        const n = v === '' ? null : Number(v);
        if (n !== null && !Number.isFinite(n)) return setProblem(`${label(k)} must be a number.`);
        patch[k] = n;
      } else if (typeof orig === 'object') {
        try {
          patch[k] = JSON.parse(String(v));
        } catch {
          return setProblem(`${label(k)} is not valid JSON.`);
        }
      } else patch[k] = v;
    }
    setProblem(null);
    void onSave(patch);
  };

  return (
    <div className="settings-form">
      {Object.entries(settings).map(([k, orig]) => (
        <label key={k} className={typeof orig === 'boolean' ? 'check' : 'field'}>
          {typeof orig === 'boolean' ? (
            <>
              <input type="checkbox" checked={draft[k] === true} onChange={(e) => setDraft({ ...draft, [k]: e.target.checked })} /> {label(k)}
            </>
          ) : (
            <>
              <span>{label(k)}</span>
              {typeof orig === 'object' && orig !== null ? (
                <textarea rows={4} spellCheck={false} value={String(draft[k] ?? '')} onChange={(e) => setDraft({ ...draft, [k]: e.target.value })} />
              ) : (
                <input
                  type={typeof orig === 'number' ? 'number' : 'text'}
                  value={String(draft[k] ?? '')}
                  onChange={(e) => setDraft({ ...draft, [k]: e.target.value })}
                />
              )}
            </>
          )}
        </label>
      ))}
      {problem ? <p role="alert">{problem}</p> : null}
      <button type="button" className="btn primary" onClick={save}>
        Save settings
      </button>
    </div>
  );
}
