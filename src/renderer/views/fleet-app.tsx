// The fleet view's page (`flash-station fleet`): every station on the broker as a row — online or offline (and when it
// was last seen once silent), its devices, its live jobs as the station's own job cards, its counters — and a form that
// starts a flash there with that station's token. Polls GET /api/stations every second.
import { useCallback, useEffect, useRef, useState } from 'react';
import type { Job } from '../../protocol/messages.js';
import { JobCard, type JobAction } from '../components/job-card.js';
import { formatDuration } from '../lib/format.js';
import { describeAnswer, fetchStations, sendCommand, type CommandOutcome, type FleetCommand, type FleetStation } from '../lib/fleet-api.js';
import type { ActiveJob } from '../lib/station-state.js';

interface Draft {
  token: string;
  deviceId: string;
  partition: string;
  image: string;
}
const EMPTY: Draft = { token: '', deviceId: '', partition: '', image: '' };

/** A fleet job as the station's job card takes it (the card's "last heard" is the job's newest time). */
function card(job: Job): ActiveJob {
  return { ...job, updatedAt: job.startedAt ?? job.createdAt };
}

const noLogs = undefined;
const noClear = (): void => undefined;

interface RowProps {
  station: FleetStation;
  now: number;
  draft: Draft;
  result: string;
  onDraft: (stationId: string, change: Partial<Draft>) => void;
  onSend: (stationId: string, command: FleetCommand) => Promise<CommandOutcome>;
}

function StationRow({ station: s, now, draft, result, onDraft, onSend }: RowProps) {
  const id = s.stationId;
  const c = s.counters;
  const deviceId = s.devices.some((d) => d.id === draft.deviceId) ? draft.deviceId : (s.devices[0]?.id ?? '');
  const onAction = useCallback(async (action: JobAction, jobId: string) => {
    const said = await onSend(id, { type: action, jobId });
    if (!said.ok) throw new Error(said.text);
  }, [id, onSend]);
  const start = (): void => {
    void onSend(id, { type: 'start_flash', deviceId, image: draft.image, ...(draft.partition ? { partition: draft.partition } : {}) });
  };
  return (
    <tr aria-label={`Station ${id}`} data-online={s.online}>
      <th scope="row">{id}</th>
      <td>
        <span className="conn" data-status={s.online ? 'connected' : 'disconnected'}>
          <span className="conn-dot" aria-hidden="true" />
          {s.online ? 'Online' : 'Offline'}
        </span>
        {s.online ? null : <div className="muted">last seen {formatDuration(Math.max(0, now - s.lastSeen) / 1000)} ago</div>}
      </td>
      <td>
        <ul className="fleet-devices">
          {s.devices.map((d) => (
            <li key={d.id} aria-label={`Device ${d.id}`}>
              {d.id} <span className="muted">({d.protocol}, {d.state})</span>
            </li>
          ))}
        </ul>
      </td>
      <td>
        <div className="fleet-jobs">
          {s.jobs.map((j) => (
            <JobCard key={j.jobId} job={card(j)} logs={noLogs} onAction={onAction} onClear={noClear} />
          ))}
        </div>
      </td>
      <td className="muted">
        {c.completed} done · {c.failed} failed · {c.cancelled} cancelled{c.dropped ? ` · ${c.dropped} events lost` : ''} · {c.events} events
      </td>
      <td>
        <div className="fleet-steer">
          <input type="password" aria-label="Station token" placeholder="station token" value={draft.token} onChange={(e) => onDraft(id, { token: e.target.value })} />
          <select aria-label="Device" value={deviceId} onChange={(e) => onDraft(id, { deviceId: e.target.value })}>
            {s.devices.map((d) => (
              <option key={d.id} value={d.id}>
                {d.id}
              </option>
            ))}
          </select>
          <input type="text" aria-label="Partition" placeholder="partition" size={10} value={draft.partition} onChange={(e) => onDraft(id, { partition: e.target.value })} />
          <input type="text" aria-label="Image" placeholder="/path/on/station.img" value={draft.image} onChange={(e) => onDraft(id, { image: e.target.value })} />
          <button type="button" className="btn primary" onClick={start}>
            Flash
          </button>
        </div>
        <div role="status" className="muted">
          {result}
        </div>
      </td>
    </tr>
  );
}

export function FleetApp({ fleetToken }: { fleetToken: string }) {
  const [stations, setStations] = useState<FleetStation[]>([]);
  const [problem, setProblem] = useState('');
  const [loaded, setLoaded] = useState(false);
  const [now, setNow] = useState(() => Date.now());
  // What a person typed, per station: the rows redraw every second, the drafts stay.
  const [drafts, setDrafts] = useState<Record<string, Draft>>({});
  const [results, setResults] = useState<Record<string, string>>({});

  useEffect(() => {
    let live = true;
    const poll = async (): Promise<void> => {
      try {
        const next = await fetchStations();
        if (!live) return;
        setStations(next);
        setProblem('');
      } catch (e) {
        if (live) setProblem(`Fleet view unreachable: ${e instanceof Error ? e.message : String(e)}`);
      }
      if (live) {
        setLoaded(true);
        setNow(Date.now());
      }
    };
    void poll();
    const timer = setInterval(() => void poll(), 1000);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, []);

  const onDraft = useCallback((stationId: string, change: Partial<Draft>) => {
    setDrafts((all) => ({ ...all, [stationId]: { ...EMPTY, ...all[stationId], ...change } }));
  }, []);
  const draftsNow = useRef(drafts);
  draftsNow.current = drafts;
  const onSend = useCallback(async (stationId: string, command: FleetCommand): Promise<CommandOutcome> => {
    const token = draftsNow.current[stationId]?.token ?? '';
    const say = (outcome: CommandOutcome): CommandOutcome => {
      setResults((all) => ({ ...all, [stationId]: outcome.text }));
      return outcome;
    };
    if (!token) return say({ ok: false, text: 'Enter this station\'s token first (its DATA_DIR/token).' });
    say({ ok: false, text: `Sent ${command.type}…` });
    try {
      return say(await sendCommand(fleetToken, stationId, token, command));
    } catch (e) {
      return say({ ok: false, text: describeAnswer(command.type, 0, { error: { code: 'unreachable', message: e instanceof Error ? e.message : String(e) } }) });
    }
  }, [fleetToken]);

  const online = stations.filter((s) => s.online).length;
  const jobs = stations.reduce((n, s) => n + s.jobs.length, 0);
  return (
    <>
      <header className="app-head">
        <h1 className="brand">Flash Station — fleet</h1>
        <p role="status" className="head-status">
          {problem || (loaded ? `${stations.length} stations, ${online} online, ${jobs} live jobs` : 'Loading…')}
        </p>
      </header>
      <main>
        <div className="table-scroll">
          <table className="table fleet-table">
            <thead>
              <tr>
                <th>Station</th>
                <th>Link</th>
                <th>Devices</th>
                <th>Live jobs</th>
                <th>Counters</th>
                <th>Steer</th>
              </tr>
            </thead>
            <tbody>
              {stations.map((s) => (
                <StationRow key={s.stationId} station={s} now={now} draft={drafts[s.stationId] ?? EMPTY} result={results[s.stationId] ?? ''} onDraft={onDraft} onSend={onSend} />
              ))}
            </tbody>
          </table>
        </div>
        {loaded && stations.length === 0 && !problem ? <p className="empty">No station has reported to the broker yet (serve --mqtt URL).</p> : null}
      </main>
    </>
  );
}
