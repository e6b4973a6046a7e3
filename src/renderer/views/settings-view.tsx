// Settings: station-wide throttle, the station's own settings (slots, retries, auto-flash rules) where it exposes
// them, the access token (show, copy, regenerate) and this page's appearance.
import { useEffect, useState } from 'react';
import { command } from '../hooks/use-job-actions.js';
import { useStationContext, useStationSnapshot } from '../hooks/use-station.js';
import { HttpError, stationFetch } from '../lib/station-http.js';
import type { Theme } from '../lib/theme.js';
import { isSettingsDoc, StationSettingsForm, type SettingsDoc } from '../components/station-settings-form.js';

export interface SettingsViewProps {
  theme: Theme;
  onTheme: (theme: Theme) => void;
  notifications: boolean;
  onNotifications: (on: boolean) => void;
  onToken: (token: string) => void;
}


export function SettingsView({ theme, onTheme, notifications, onNotifications, onToken }: SettingsViewProps) {
  const { connection, token } = useStationContext();
  const snapshot = useStationSnapshot(connection);
  const [limit, setLimit] = useState('');
  const [limitMsg, setLimitMsg] = useState<string | null>(null);
  const [settings, setSettings] = useState<SettingsDoc | null>(null);
  const [settingsMsg, setSettingsMsg] = useState<string | null>(null);
  const [reveal, setReveal] = useState(false);
  const [tokenMsg, setTokenMsg] = useState<string | null>(null);
  const [pasted, setPasted] = useState('');
  const [confirmRegenerate, setConfirmRegenerate] = useState(false);

  useEffect(() => {
    stationFetch<unknown>('/api/settings', token)
      .then((doc) => (isSettingsDoc(doc) ? setSettings(doc) : setSettingsMsg('This station answers /api/settings in a form this page does not know.')))
      .catch((e: unknown) =>
        setSettingsMsg(
          e instanceof HttpError && e.status === 404
            ? 'This station does not expose its settings over HTTP (GET/PUT /api/settings); slots, retries and auto-flash rules are set where the station runs.'
            : e instanceof Error
              ? e.message
              : String(e),
        ),
      );
  }, [token]);

  const applyLimit = async () => {
    setLimitMsg(null);
    const mb = limit.trim() === '' ? null : Number(limit);
    if (mb !== null && (!Number.isFinite(mb) || mb <= 0)) {
      setLimitMsg('Give a positive number of MiB/s, or leave it empty for no limit.');
      return;
    }
    try {
      await command(connection, { type: 'set_limits', bytesPerSecond: mb === null ? null : Math.round(mb * 1024 * 1024) });
      setLimitMsg(mb === null ? 'No station-wide limit.' : `Station-wide limit: ${mb} MiB/s.`);
    } catch (e) {
      setLimitMsg(e instanceof Error ? e.message : String(e));
    }
  };

  const saveSettings = async (patch: SettingsDoc) => {
    setSettingsMsg(null);
    try {
      const saved = await stationFetch<unknown>('/api/settings', token, { method: 'PUT', body: patch });
      setSettings(isSettingsDoc(saved) ? saved : patch);
      setSettingsMsg('Saved.');
    } catch (e) {
      setSettingsMsg(e instanceof Error ? e.message : String(e));
    }
  };

  const regenerate = async () => {
    setConfirmRegenerate(false);
    setTokenMsg(null);
    try {
      const answer = await stationFetch<{ token?: string }>('/api/token/regenerate', token, { method: 'POST' });
      if (!answer?.token) throw new Error('The station did not return a new token.');
      onToken(answer.token);
      setTokenMsg('New token in use. Other clients must use the new token now.');
    } catch (e) {
      setTokenMsg(
        e instanceof HttpError && e.status === 404
          ? 'This station cannot regenerate its token over HTTP; delete DATA_DIR/token and restart it.'
          : e instanceof Error
            ? e.message
            : String(e),
      );
    }
  };

  return (
    <section className="settings-view" aria-labelledby="settings-title">
      <h2 id="settings-title">Settings</h2>
      {settings ? null : (
      <fieldset>
        <legend>Bandwidth</legend>
        <label>
          Station-wide limit (MiB/s, empty = none){' '}
          <input type="number" min="0" step="any" inputMode="decimal" value={limit} onChange={(e) => setLimit(e.target.value)} />
        </label>{' '}
        <button type="button" className="btn" onClick={() => void applyLimit()} disabled={snapshot.status !== 'connected'}>
          Apply limit
        </button>
        {limitMsg ? <p role="status">{limitMsg}</p> : null}
      </fieldset>
      )}
      <fieldset>
        <legend>Station</legend>
        {settings ? <StationSettingsForm key={JSON.stringify(settings)} settings={settings} onSave={saveSettings} /> : null}
        {settingsMsg ? <p role="status">{settingsMsg}</p> : null}
      </fieldset>
      <fieldset>
        <legend>Access token</legend>
        <p>
          Anyone who wants to start, pause or cancel jobs or change settings — another browser, a script, the command line —
          needs this token; without it they can only watch. Station version {snapshot.station.version || '—'};{' '}
          {snapshot.station.authenticated ? 'this page has the token.' : 'this page has no valid token, so it can only watch. Paste the token below.'}
        </p>
        <code className="token" aria-label="Token">
          {token ? (reveal ? token : '•'.repeat(Math.min(32, token.length))) : '(none)'}
        </code>{' '}
        <button type="button" className="btn small" onClick={() => setReveal((r) => !r)} aria-pressed={reveal}>
          {reveal ? 'Hide' : 'Show'}
        </button>{' '}
        <button type="button" className="btn small" onClick={() => void navigator.clipboard?.writeText(token).then(() => setTokenMsg('Copied.'))}>
          Copy
        </button>{' '}
        <button type="button" className="btn small danger" onClick={() => setConfirmRegenerate(true)} disabled={confirmRegenerate}>
          Regenerate
        </button>
        {confirmRegenerate ? (
          <p className="confirm" role="group" aria-label="Regenerate the token?">
            Every other browser, script and command line using the old token loses control until it gets the new one.{' '}
            <button type="button" className="btn small danger" onClick={() => void regenerate()}>
              Yes, regenerate
            </button>{' '}
            <button type="button" className="btn small" onClick={() => setConfirmRegenerate(false)}>
              Keep this token
            </button>
          </p>
        ) : null}
        <form
          className="token-entry"
          onSubmit={(e) => {
            e.preventDefault();
            const t = pasted.trim();
            if (!t) return;
            onToken(t);
            setPasted('');
            setTokenMsg('Token in use; the page reconnects with it.');
          }}
        >
          <label>
            Use another token{' '}
            <input type="password" autoComplete="off" spellCheck={false} value={pasted} onChange={(e) => setPasted(e.target.value)} />
          </label>{' '}
          <button type="submit" className="btn small" disabled={!pasted.trim()}>
            Use token
          </button>
        </form>
        {tokenMsg ? <p role="status">{tokenMsg}</p> : null}
      </fieldset>
      <fieldset>
        <legend>This page</legend>
        <label>
          Theme{' '}
          <select value={theme} onChange={(e) => onTheme(e.target.value as Theme)}>
            <option value="system">like the system</option>
            <option value="light">light</option>
            <option value="dark">dark</option>
          </select>
        </label>
        <label className="check">
          <input type="checkbox" checked={notifications} onChange={(e) => onNotifications(e.target.checked)} /> Desktop notifications when a job
          ends
        </label>
      </fieldset>
    </section>
  );
}
