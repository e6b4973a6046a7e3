// One job: state word, progress bar, speed, ETA, bytes, stage, error, its controls and its device log.
import { memo, useState } from 'react';
import type { ActiveJob, LogEntry } from '../lib/station-state.js';
import { formatClock, formatJobBytes, formatDuration, formatPercent, formatSpeed, formatTime, shortTarget, stateWord } from '../lib/format.js';

export type JobAction = 'pause_flash' | 'resume_flash' | 'cancel_flash';

export interface JobCardProps {
  job: ActiveJob;
  logs: readonly LogEntry[] | undefined;
  onAction: (action: JobAction, jobId: string) => Promise<void>;
  onClear: (jobId: string) => void;
}

const ACTIVE = new Set(['queued', 'running', 'paused']);

/** An ended job's average speed: the station's figure (active time only), else bytes over wall time. */
export function averageSpeed(job: ActiveJob): number {
  if (job.averageSpeed !== undefined) return job.averageSpeed;
  if (job.startedAt === undefined || job.endedAt === undefined || job.endedAt <= job.startedAt) return 0;
  return job.bytesTransferred / ((job.endedAt - job.startedAt) / 1000);
}

function JobCardImpl({ job, logs, onAction, onClear }: JobCardProps) {
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<string | null>(null);
  const [cancelling, setCancelling] = useState(false);
  const percent = Math.round(Math.max(0, Math.min(100, job.progress)));
  const active = ACTIVE.has(job.state);

  const act = (action: JobAction) => {
    setBusy(true);
    setActionError(null);
    onAction(action, job.jobId)
      .then(() => {
        if (action === 'cancel_flash') setCancelling(true);
      })
      .catch((e: unknown) => setActionError(e instanceof Error ? e.message : String(e)))
      .finally(() => setBusy(false));
  };

  return (
    <section className="job-card" data-state={job.state} data-job-id={job.jobId} aria-label={`Job ${job.jobId} on device ${job.deviceId}`}>
      <header className="job-head">
        <span className={`state-badge state-${job.state}`}>{stateWord(job.state)}</span>
        <span className="job-device">{job.deviceId}</span>
        <span className="job-target" title={job.target ?? ''}>
          {job.target ? shortTarget(job.target) : job.jobId}
        </span>
      </header>
      <div
        className="progress"
        role="progressbar"
        aria-label={`Progress of job ${job.jobId}`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
        aria-valuetext={`${formatPercent(job.progress)} ${stateWord(job.state)}`}
      >
        <div className="progress-fill" style={{ transform: `scaleX(${percent / 100})` }} />
      </div>
      <dl className="job-stats">
        <div>
          <dt>Progress</dt>
          <dd>{formatPercent(job.progress)}</dd>
        </div>
        {active ? (
          <>
            <div>
              <dt>Speed</dt>
              <dd>{job.state === 'running' ? formatSpeed(job.transferSpeed) : '—'}</dd>
            </div>
            <div>
              <dt>ETA</dt>
              <dd>{job.state === 'running' && job.estimatedTimeRemaining > 0 ? formatDuration(job.estimatedTimeRemaining) : '—'}</dd>
            </div>
          </>
        ) : (
          <>
            <div>
              <dt>Avg speed</dt>
              <dd>{formatSpeed(averageSpeed(job))}</dd>
            </div>
            <div>
              <dt>Took</dt>
              <dd>{job.startedAt && job.endedAt ? formatDuration((job.endedAt - job.startedAt) / 1000) : '—'}</dd>
            </div>
          </>
        )}
        <div>
          <dt>Bytes</dt>
          <dd>{formatJobBytes(job)}</dd>
        </div>
      </dl>
      {active ? (
        <p className="job-stage">
          {job.state === 'queued'
            ? job.queuePosition !== undefined
              ? `Waiting — position ${job.queuePosition} in the queue`
              : 'Waiting for the device or a free slot'
            : cancelling
              ? 'Cancelling — ending the current transfer so the device stays responsive…'
              : job.stage || '\u00a0'}
        </p>
      ) : null}
      {job.error && (job.state !== 'cancelled' || job.error !== 'Cancelled') ? (
        <p className="job-error" role="alert">
          {job.error}
          {job.errorCode && job.errorCode !== 'interrupted' ? <small className="error-code"> ({job.errorCode})</small> : null}
        </p>
      ) : null}
      {actionError ? (
        <p className="job-error" role="alert">
          {actionError}
        </p>
      ) : null}
      <div className="job-actions">
        {job.state === 'running' ? (
          <button type="button" className="btn" disabled={busy} onClick={() => act('pause_flash')}>
            Pause
          </button>
        ) : null}
        {job.state === 'paused' ? (
          <button type="button" className="btn" disabled={busy} onClick={() => act('resume_flash')}>
            Resume
          </button>
        ) : null}
        {active ? (
          <button type="button" className="btn danger" disabled={busy || cancelling} onClick={() => act('cancel_flash')}>
            Cancel
          </button>
        ) : (
          <button type="button" className="btn subtle" onClick={() => onClear(job.jobId)}>
            Dismiss
          </button>
        )}
        <span className="job-times">{job.endedAt ? `Ended ${formatTime(job.endedAt)}` : job.startedAt ? `Started ${formatTime(job.startedAt)}` : ''}</span>
      </div>
      <details className="job-log">
        <summary>Log ({logs?.length ?? 0})</summary>
        <ol className="log-lines" aria-label={`Log of job ${job.jobId}`}>
          {(logs ?? []).map((l, i) => (
            <li key={i} className={`log-${l.level}`}>
              <time>{formatClock(l.timestamp)}</time> {l.message}
            </li>
          ))}
        </ol>
      </details>
    </section>
  );
}

/** What a card shows of a job; two jobs that look the same do not redraw the card. */
function looks(j: ActiveJob): string {
  return [
    j.state, j.stage, j.error, j.errorCode, j.target, j.queuePosition, j.startedAt, j.endedAt, formatPercent(j.progress),
    j.state === 'running' ? formatSpeed(j.transferSpeed) : '', j.state === 'running' ? formatDuration(j.estimatedTimeRemaining) : '', j.averageSpeed,
    formatJobBytes(j),
  ].join('\u0000');
}

export const JobCard = memo(JobCardImpl, (a, b) => a.logs === b.logs && a.onAction === b.onAction && a.onClear === b.onClear && (a.job === b.job || looks(a.job) === looks(b.job)));
