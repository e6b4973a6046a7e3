// History: finished jobs from the station's store, filters, throughput over time and success rates per device and image.
import { useCallback, useEffect, useMemo, useState } from 'react';
import type { Job } from '../../protocol/messages.js';
import { RateChart, ThroughputChart } from '../components/charts.js';
import { command } from '../hooks/use-job-actions.js';
import { useStationContext, useStationSnapshot } from '../hooks/use-station.js';
import { filterJobs, fromAnalytics, historyCsvHref, imageOf, newestEndedFirst, successRates, throughputOverTime, type AnalyticsRowLike, type HistoryFilter, type RateRow } from '../lib/history-stats.js';
import { stationFetch } from '../lib/station-http.js';
import { FINAL_STATES } from '../lib/station-state.js';
import { formatBytes, formatDuration, formatTime, stateWord } from '../lib/format.js';

const LIMIT = 1000;

function dayStart(value: string): number | undefined {
  return value ? new Date(`${value}T00:00:00`).getTime() : undefined;
}
function dayEnd(value: string): number | undefined {
  return value ? new Date(`${value}T23:59:59.999`).getTime() : undefined;
}

export function HistoryView() {
  const { connection, token } = useStationContext();
  const [serverRates, setServerRates] = useState<{ device: RateRow[]; image: RateRow[] } | null>(null);
  const snapshot = useStationSnapshot(connection);
  const [jobs, setJobs] = useState<Job[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [device, setDevice] = useState('');
  const [state, setState] = useState('');
  const [image, setImage] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const connected = snapshot.status === 'connected';

  const load = useCallback(async () => {
    setLoading(true);
    setError(null);
    try {
      const result = await command(connection, { type: 'get_history', limit: LIMIT });
      const all = Array.isArray(result.jobs) ? (result.jobs as Job[]) : [];
      // History is about how jobs ended; running ones are on the Station and Queue pages.
      setJobs(all.filter((j) => FINAL_STATES.has(j.state) || j.endedAt !== undefined));
      // The station's own analytics (all of history, not just the jobs loaded here), where it offers them.
      const [device, image] = await Promise.all(
        (['device', 'image'] as const).map((g) => stationFetch<AnalyticsRowLike[]>(`/api/analytics?groupBy=${g}`, token).catch(() => null)),
      );
      setServerRates(device && image ? { device: fromAnalytics(device), image: fromAnalytics(image) } : null);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setLoading(false);
    }
  }, [connection, token]);

  useEffect(() => {
    if (connected) void load();
  }, [connected, load]);

  const shown = useMemo(() => {
    const filter: HistoryFilter = { deviceId: device || undefined, state: state || undefined, image, from: dayStart(from), to: dayEnd(to) };
    return newestEndedFirst(filterJobs(jobs, filter));
  }, [jobs, device, state, image, from, to]);
  const devices = useMemo(() => [...new Set(jobs.map((j) => j.deviceId))].sort(), [jobs]);
  const throughput = useMemo(() => throughputOverTime(shown), [shown]);
  const filtered = Boolean(device || state || image || from || to);
  // Unfiltered: the station's analytics over its whole history; filtered: computed from the jobs shown.
  const byDevice = useMemo(() => (!filtered && serverRates ? serverRates.device : successRates(shown, (j) => j.deviceId)), [shown, filtered, serverRates]);
  const byImage = useMemo(() => (!filtered && serverRates ? serverRates.image : successRates(shown, imageOf)), [shown, filtered, serverRates]);
  const bytes = shown.reduce((a, j) => a + (j.state === 'completed' ? j.bytesTransferred : 0), 0);
  const completed = shown.filter((j) => j.state === 'completed').length;
  const failed = shown.filter((j) => j.state === 'failed').length;

  return (
    <section className="history-view" aria-labelledby="history-title">
      <header className="section-head">
        <h2 id="history-title">History</h2>
        <button type="button" className="btn" onClick={() => void load()} disabled={!connected || loading}>
          {loading ? 'Loading…' : 'Refresh'}
        </button>
        <a className="btn" href={historyCsvHref({ deviceId: device || undefined, state: state || undefined })} download="flash-station-history.csv">
          Export CSV
        </a>
      </header>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="History filters">
        <label>
          Device{' '}
          <select value={device} onChange={(e) => setDevice(e.target.value)}>
            <option value="">all</option>
            {devices.map((d) => (
              <option key={d}>{d}</option>
            ))}
          </select>
        </label>
        <label>
          Outcome{' '}
          <select value={state} onChange={(e) => setState(e.target.value)}>
            <option value="">all</option>
            <option value="completed">completed</option>
            <option value="failed">failed</option>
            <option value="cancelled">cancelled</option>
          </select>
        </label>
        <label>
          File contains <input type="search" value={image} onChange={(e) => setImage(e.target.value)} />
        </label>
        <label>
          From <input type="date" value={from} onChange={(e) => setFrom(e.target.value)} />
        </label>
        <label>
          To <input type="date" value={to} onChange={(e) => setTo(e.target.value)} />
        </label>
      </form>
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
      <p className="summary">
        {shown.length} jobs · {completed} completed · {failed} failed · {formatBytes(bytes)} written
      </p>
      <div className="charts">
        <div>
          <h3>Throughput over time</h3>
          <ThroughputChart points={throughput} title="Bytes written and average speed over time" />
        </div>
        <div>
          <h3>Success rate per device</h3>
          <RateChart rows={byDevice} title="Success rate per device" />
        </div>
        <div>
          <h3>Success rate per image</h3>
          <RateChart rows={byImage} title="Success rate per image" />
        </div>
      </div>
      <div className="table-scroll">
      <table className="table">
        <thead>
          <tr>
            <th scope="col">Ended</th>
            <th scope="col">Device</th>
            <th scope="col">What</th>
            <th scope="col">Outcome</th>
            <th scope="col">Data</th>
            <th scope="col">Took</th>
            <th scope="col">Error</th>
          </tr>
        </thead>
        <tbody>
          {shown.slice(0, 300).map((j) => (
            <tr key={j.jobId} data-state={j.state}>
              <td>{formatTime(j.endedAt ?? j.createdAt)}</td>
              <td>{j.deviceId}</td>
              <td title={j.jobId}>{j.target ?? j.jobId}</td>
              <td>{stateWord(j.state)}</td>
              <td>{formatBytes(j.bytesTransferred)}</td>
              <td>{j.startedAt && j.endedAt ? formatDuration((j.endedAt - j.startedAt) / 1000) : '—'}</td>
              <td>{j.error ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      </div>
    </section>
  );
}
