// The application shell: header (connection, theme), tabs for Station, Queue, History and Settings.
import { useEffect, useMemo, useState, useSyncExternalStore } from 'react';
import { useStationConnection } from './hooks/use-flash-progress-websocket.js';
import { StationContext, useStationSnapshot, type StationContextValue } from './hooks/use-station.js';
import { rememberToken, stationSocketUrl } from './lib/session.js';
import { applyTheme, loadTheme, nextTheme, type Theme } from './lib/theme.js';
import { StationView } from './views/station-view.js';
import { QueueView } from './views/queue-view.js';
import { HistoryView } from './views/history-view.js';
import { SettingsView } from './views/settings-view.js';
import { FINAL_STATES } from './lib/station-state.js';

const TABS = [
  { id: 'station', label: 'Station' },
  { id: 'queue', label: 'Queue' },
  { id: 'history', label: 'History' },
  { id: 'settings', label: 'Settings' },
] as const;
type TabId = (typeof TABS)[number]['id'];

const RECONNECT_DELAY = 1000;
/** A station UI keeps trying: a restarted station is back within seconds. */
const MAX_RECONNECT_ATTEMPTS = 10_000;

function tabFromHash(): TabId {
  const h = location.hash.replace(/^#\/?/, '');
  return TABS.find((t) => t.id === h)?.id ?? 'station';
}

function subscribeHash(cb: () => void) {
  window.addEventListener('hashchange', cb);
  return () => window.removeEventListener('hashchange', cb);
}

function systemDark(): boolean {
  return typeof matchMedia === 'function' && matchMedia('(prefers-color-scheme: dark)').matches;
}

export function App({ initialToken }: { initialToken: string }) {
  const [token, setToken] = useState(initialToken);
  const socketUrl = useMemo(() => stationSocketUrl(token), [token]);
  const connection = useStationConnection({ url: socketUrl, reconnectDelay: RECONNECT_DELAY, maxReconnectAttempts: MAX_RECONNECT_ATTEMPTS });
  const snapshot = useStationSnapshot(connection);
  const tab = useSyncExternalStore(subscribeHash, tabFromHash);
  const [theme, setTheme] = useState<Theme>(loadTheme);
  const [notifications, setNotifications] = useState(() => localStorage.getItem('flash-station-notify') !== 'off');

  useEffect(() => applyTheme(theme), [theme]);
  useEffect(() => localStorage.setItem('flash-station-notify', notifications ? 'on' : 'off'), [notifications]);

  const ctx: StationContextValue = useMemo(
    () => ({ connection, token, socketUrl, reconnectDelay: RECONNECT_DELAY, maxReconnectAttempts: MAX_RECONNECT_ATTEMPTS }),
    [connection, token, socketUrl],
  );
  const active = [...snapshot.station.jobs.values()].filter((j) => !FINAL_STATES.has(j.state)).length;
  useEffect(() => {
    document.title = active ? `(${active}) Flash Station` : 'Flash Station';
  }, [active]);

  const onToken = (t: string) => {
    rememberToken(t);
    setToken(t);
  };

  return (
    <StationContext.Provider value={ctx}>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="app-head">
        <h1 className="brand">
          <span aria-hidden="true">⚡</span> Flash Station
        </h1>
        <nav aria-label="Views">
          <ul className="tabs">
            {TABS.map((t) => (
              <li key={t.id}>
                <a href={`#/${t.id}`} aria-current={tab === t.id ? 'page' : undefined}>
                  {t.label}
                  {t.id === 'queue' && active ? <span className="count"> {active}</span> : null}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span className="head-status" data-status={snapshot.status}>
          <span className="conn-dot" aria-hidden="true" /> {snapshot.status === 'connected' ? `station ${snapshot.station.version}` : snapshot.status}
          {snapshot.status === 'connected' && !snapshot.station.authenticated ? (
            <>
              {' · watching only — '}
              <a href="#/settings">add the token</a>
            </>
          ) : (
            ''
          )}
        </span>
        <button
          type="button"
          className="btn subtle theme-toggle"
          onClick={() => setTheme(nextTheme(theme, systemDark()))}
          title="Switch between light and dark"
        >
          {(theme === 'system' ? (systemDark() ? 'dark' : 'light') : theme) === 'dark' ? (
            <>
              ☀<span className="theme-label"> Light theme</span>
            </>
          ) : (
            <>
              ☾<span className="theme-label"> Dark theme</span>
            </>
          )}
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {tab === 'station' ? <StationView notifications={notifications} /> : null}
        {tab === 'queue' ? <QueueView /> : null}
        {tab === 'history' ? <HistoryView /> : null}
        {tab === 'settings' ? (
          <SettingsView theme={theme} onTheme={setTheme} notifications={notifications} onNotifications={setNotifications} onToken={onToken} />
        ) : null}
      </main>
    </StationContext.Provider>
  );
}
