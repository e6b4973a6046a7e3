// The queue: every unfinished job in order, with per-job and all-jobs pause, resume and cancel.
import { useMemo, useState } from 'react';
import type { JobAction } from '../components/job-card.js';
import { command } from '../hooks/use-job-actions.js';
import { useStationContext, useStationSnapshot } from '../hooks/use-station.js';
import { orderQueue } from '../lib/job-order.js';
import { formatBytes, formatDuration, formatPercent, formatSpeed, stateWord } from '../lib/format.js';
import { FINAL_STATES, type ActiveJob } from '../lib/station-state.js';
import { stationFetch } from '../lib/station-http.js';

/** The # column: the station's queue position for a waiting job (— when not known yet), ▶ / ⏸ for the others. */
export function queueMark(j: ActiveJob): string {
  if (j.state === 'queued') return j.queuePosition !== undefined ? String(j.queuePosition) : '—';
  return j.state === 'paused' ? '⏸' : '▶';
}

/** What a job will write: its data bytes once known, else the image's size, else —. */
export function jobSize(j: ActiveJob): string {
  if (j.totalBytes > 0) return formatBytes(j.totalBytes);
  return j.imageBytes ? formatBytes(j.imageBytes) : '—';
}

export function QueueView() {
  const { connection, token } = useStationContext();
  const snapshot = useStationSnapshot(connection);
  const jobs = useMemo(() => orderQueue([...snapshot.station.jobs.values()].filter((j) => !FINAL_STATES.has(j.state))), [snapshot.station.jobs]);
  const [error, setError] = useState<string | null>(null);
  const [confirmCancel, setConfirmCancel] = useState(false);

  const bulk = async (what: 'pause' | 'resume' | 'cancel') => {
    setError(null);
    try {
      await stationFetch(`/api/jobs/${what}-all`, token, { method: 'POST' });
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  const run = async (action: JobAction, ids: string[]) => {
    setError(null);
    const results = await Promise.allSettled(ids.map((jobId) => command(connection, { type: action, jobId })));
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason instanceof Error ? r.reason.message : String(r.reason)] : []));
    if (failed.length) setError(`${failed.length} of ${ids.length} did not apply: ${failed[0]}`);
  };
  const running = jobs.filter((j) => j.state === 'running').map((j) => j.jobId);
  const paused = jobs.filter((j) => j.state === 'paused').map((j) => j.jobId);

  return (
    <section className="queue-view" aria-labelledby="queue-title">
      <header className="section-head">
        <h2 id="queue-title">Queue ({jobs.length})</h2>
        <div className="bulk">
          <button type="button" className="btn" disabled={running.length === 0} onClick={() => void bulk('pause')}>
            Pause all
          </button>
          <button type="button" className="btn" disabled={paused.length === 0} onClick={() => void bulk('resume')}>
            Resume all
          </button>
          {confirmCancel ? (
            <span className="confirm" role="group" aria-label="Confirm cancelling every job">
              Cancel {jobs.length} jobs?{' '}
              <button type="button" className="btn danger" onClick={() => void bulk('cancel').then(() => setConfirmCancel(false))}>
                Yes, cancel all
              </button>{' '}
              <button type="button" className="btn subtle" onClick={() => setConfirmCancel(false)}>
                Keep them
              </button>
            </span>
          ) : (
            <button type="button" className="btn danger" disabled={jobs.length === 0} onClick={() => setConfirmCancel(true)}>
              Cancel all
            </button>
          )}
        </div>
      </header>
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
      {jobs.length === 0 ? (
        <p className="empty">Nothing waiting or running.</p>
      ) : (
        <div className="table-scroll">
      <table className="table">
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Job</th>
              <th scope="col">Device</th>
              <th scope="col">State</th>
              <th scope="col">Progress</th>
              <th scope="col">Speed</th>
              <th scope="col">ETA</th>
              <th scope="col">Size</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {jobs.map((j) => (
              <tr key={j.jobId} data-state={j.state}>
                <td>{queueMark(j)}</td>
                <td title={j.target ?? ''}>{j.target ?? j.jobId}</td>
                <td>{j.deviceId}</td>
                <td>{stateWord(j.state)}</td>
                <td>{formatPercent(j.progress)}</td>
                <td>{j.state === 'running' ? formatSpeed(j.transferSpeed) : '—'}</td>
                <td>{j.state === 'running' ? formatDuration(j.estimatedTimeRemaining) : '—'}</td>
                <td>{jobSize(j)}</td>
                <td>
                  <div className="row-actions">
                  {j.state === 'running' ? (
                    <button type="button" className="btn small" onClick={() => void run('pause_flash', [j.jobId])}>
                      Pause
                    </button>
                  ) : null}
                  {j.state === 'paused' ? (
                    <button type="button" className="btn small" onClick={() => void run('resume_flash', [j.jobId])}>
                      Resume
                    </button>
                  ) : null}
                  <button type="button" className="btn small danger" onClick={() => void run('cancel_flash', [j.jobId])}>
                    Cancel
                  </button>
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      )}
    </section>
  );
}
