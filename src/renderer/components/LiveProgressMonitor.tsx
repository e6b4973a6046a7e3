// The guide's live monitor: a connection indicator and one card per job (progress bar, speed, ETA, bytes, stage, errors).
import { useEffect, useMemo, useState, useSyncExternalStore } from 'react';
import { useFlashProgressWebSocket, useStationConnection, type UseFlashProgressWebSocketOptions } from '../hooks/use-flash-progress-websocket.js';
import { useJobActions } from '../hooks/use-job-actions.js';
import { orderJobs } from '../lib/job-order.js';
import { FINAL_STATES } from '../lib/station-state.js';
import { BatchBar } from './batch-bar.js';
import { ConnectionIndicator } from './connection-indicator.js';
import { MqttIndicator } from './mqtt-indicator.js';
import { JobCard } from './job-card.js';

const MAX_FINISHED_SHOWN = 48;

export interface LiveProgressMonitorProps extends Partial<UseFlashProgressWebSocketOptions> {
  url: string;
  title?: string;
  /** Show only jobs of these devices. */
  deviceFilter?: ReadonlySet<string>;
}

export function LiveProgressMonitor({ title = 'Jobs', deviceFilter, ...options }: LiveProgressMonitorProps) {
  const hook = useFlashProgressWebSocket(options);
  const connection = useStationConnection(options);
  const logs = useSyncExternalStore(connection.subscribe, () => connection.getSnapshot().station.logs);
  const batchMap = useSyncExternalStore(connection.subscribe, () => connection.getSnapshot().station.batches);
  const batches = useMemo(() => [...batchMap.values()].sort((a, b) => b.timestamp - a.timestamp).slice(0, 5), [batchMap]);
  const { onAction } = useJobActions(connection);
  const { jobs, hidden } = useMemo(() => {
    const all = orderJobs(hook.activeJobs.values()).filter((j) => !deviceFilter || deviceFilter.has(j.deviceId));
    // Every unfinished job, and the newest finished ones; older ones are in History.
    let finished = 0;
    const shown = all.filter((j) => !FINAL_STATES.has(j.state) || ++finished <= MAX_FINISHED_SHOWN);
    return { jobs: shown, hidden: all.length - shown.length };
  }, [hook.activeJobs, deviceFilter]);
  const finished = jobs.some((j) => FINAL_STATES.has(j.state));

  // Screen readers hear when a job ends (worded apart from the cards' state words, which stay unique on the page).
  const [announcement, setAnnouncement] = useState('');
  useEffect(
    () =>
      connection.onEvent((m) => {
        if (m.type === 'flash_completed') setAnnouncement(`${m.deviceId}: flash finished.`);
        else if (m.type === 'flash_failed')
          setAnnouncement(m.reason === 'cancelled' ? `${m.deviceId}: flash stopped.` : `${m.deviceId}: flash stopped with an error: ${m.error}`);
      }),
    [connection],
  );

  return (
    <section className="monitor" aria-labelledby="monitor-title">
      <header className="monitor-head">
        <h2 id="monitor-title">{title}</h2>
        <ConnectionIndicator
          status={hook.connectionStatus}
          reconnectAttempts={hook.reconnectAttempts}
          maxReconnectAttempts={options.maxReconnectAttempts}
          lastMessageTime={hook.lastMessageTime}
          onReconnect={hook.connect}
        />
        <MqttIndicator />
        {finished ? (
          <button
            type="button"
            className="btn subtle"
            onClick={() => jobs.filter((j) => FINAL_STATES.has(j.state)).forEach((j) => hook.clearJob(j.jobId))}
          >
            Dismiss finished
          </button>
        ) : null}
      </header>
      <div className="sr-only" aria-live="polite" aria-atomic="true">
        {announcement}
      </div>
      <BatchBar batches={batches} onDismiss={(id) => connection.clearBatch(id)} />
      {jobs.length === 0 ? (
        <p className="empty">No jobs yet. Pick a device, an image and a partition, then press Flash.</p>
      ) : (
        <div className="job-grid">
          {jobs.map((job) => (
            <JobCard key={job.jobId} job={job} logs={logs.get(job.jobId)} onAction={onAction} onClear={hook.clearJob} />
          ))}
        </div>
      )}
      {hidden > 0 ? <p className="muted">{hidden} older finished jobs are not shown here; History has them all.</p> : null}
    </section>
  );
}
