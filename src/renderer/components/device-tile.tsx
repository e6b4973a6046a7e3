// One device in the station grid, like one port of a flashing station: its state at a glance (ready, waiting,
// flashing, done — unplug, failed and why), per-port counters, its family and transport, product, serial and the
// family's own facts (chip, flash size, capacity…), and its actions.
import { memo } from 'react';
import type { Device } from '../../protocol/messages.js';
import type { ActiveJob } from '../lib/station-state.js';
import { portCounters, portStatus } from '../lib/port-status.js';
import { deviceFacts, deviceKind } from '../lib/device-facts.js';

export interface DeviceTileProps {
  device: Device;
  /** The device's current (unfinished) job, if any: its state and whole-number percent (so a tile redraws rarely). */
  jobState: ActiveJob['state'] | undefined;
  jobPercent: number;
  queuePosition?: number;
  selected: boolean;
  onSelect: (deviceId: string, selected: boolean) => void;
  /** Make this device the only target and take the user to the form. */
  onNewJob: (deviceId: string) => void;
}

function DeviceTileImpl({ device, jobState, jobPercent, queuePosition, selected, onSelect, onNewJob }: DeviceTileProps) {
  const status = portStatus(device, jobState ? { state: jobState, percent: jobPercent, ...(queuePosition !== undefined ? { queuePosition } : {}) } : undefined);
  const counters = portCounters(device);
  const statusId = `tile-status-${device.id}`;
  return (
    <article
      className="device-tile"
      data-state={device.state}
      data-port={status.tone}
      data-selected={selected}
      aria-label={`Device ${device.id}`}
      aria-describedby={statusId}
      onClick={(e) => {
        if ((e.target as HTMLElement).closest('button')) return;
        onSelect(device.id, true);
      }}
    >
      <header className="tile-head">
        <span className={`dev-state dev-${device.state}`}>{device.state}</span>
        <span className="tile-transport">{deviceKind(device)}</span>
      </header>
      <h3 className="tile-id">{device.id}</h3>
      <div className="tile-status" id={statusId}>
        <p className="tile-status-label">{status.label}</p>
        {jobState ? (
          <div className="mini-bar" aria-hidden="true">
            <div style={{ transform: `scaleX(${Math.min(100, jobPercent) / 100})` }} />
          </div>
        ) : null}
        {status.detail ? <p className="tile-status-detail" title={status.detail}>{status.detail}</p> : null}
      </div>
      <dl className="tile-facts">
        {deviceFacts(device).map((f) => (
          <div key={f.label}>
            <dt>{f.label}</dt>
            <dd title={f.value}>{f.value}</dd>
          </div>
        ))}
      </dl>
      {counters ? (
        <p className="tile-counters" title="Jobs on this port since the station started keeping history">
          <span className="count-ok">✓ {counters.succeeded}</span> <span className="count-bad">✗ {counters.failed}</span>
          <span className="sr-only">
            {' '}
            on this port: {counters.succeeded} succeeded, {counters.failed} failed
          </span>
        </p>
      ) : null}
      <div className="tile-actions">
        <button type="button" className="btn tile-new-job" onClick={() => onNewJob(device.id)}>
          New job<span className="sr-only"> for {device.id}</span>
        </button>
        <button type="button" className={`btn tile-select${selected ? ' on' : ''}`} aria-pressed={selected} onClick={() => onSelect(device.id, !selected)}>
          {selected ? '✓ Selected' : 'Select'}
          <span className="sr-only"> {device.id}</span>
        </button>
      </div>
    </article>
  );
}

export const DeviceTile = memo(DeviceTileImpl);
