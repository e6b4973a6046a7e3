// One device in the station grid, like one port of a flashing station: state, product, serial, transport, its job.
import { memo } from 'react';
import type { Device } from '../../protocol/messages.js';
import type { ActiveJob } from '../lib/station-state.js';

export interface DeviceTileProps {
  device: Device;
  /** The device's current (unfinished) job, if any: its state and whole-number percent (so a tile redraws rarely). */
  jobState: ActiveJob['state'] | undefined;
  jobPercent: number;
  selected: boolean;
  onSelect(deviceId: string, selected: boolean): void;
}

function DeviceTileImpl({ device, jobState, jobPercent, selected, onSelect }: DeviceTileProps) {
  const product = typeof device.info.product === 'string' ? device.info.product : device.name;
  return (
    <article
      className="device-tile"
      data-state={device.state}
      data-selected={selected}
      aria-label={`Device ${device.id}`}
      onClick={(e) => {
        if ((e.target as HTMLElement).closest('button')) return;
        onSelect(device.id, true);
      }}
    >
      <header className="tile-head">
        <span className={`dev-state dev-${device.state}`}>{device.state}</span>
        <span className="tile-transport">{device.transport}</span>
      </header>
      <h3 className="tile-id">{device.id}</h3>
      <dl className="tile-facts">
        <div>
          <dt>Product</dt>
          <dd>{product || '—'}</dd>
        </div>
        <div>
          <dt>Serial</dt>
          <dd>{device.serial || '—'}</dd>
        </div>
        {device.port ? (
          <div>
            <dt>Port</dt>
            <dd>{device.port}</dd>
          </div>
        ) : null}
      </dl>
      <div className="tile-job" aria-live="off">
        {jobState ? (
          <>
            <div className="mini-bar" aria-hidden="true">
              <div style={{ transform: `scaleX(${Math.min(100, jobPercent) / 100})` }} />
            </div>
            <span>
              {jobState === 'queued' ? 'waiting' : jobState === 'paused' ? 'on hold' : 'writing'} · {jobPercent}%
            </span>
          </>
        ) : (
          <span className="muted">{device.partitions ? `${device.partitions.length} partition${device.partitions.length === 1 ? '' : 's'}` : 'ready'}</span>
        )}
      </div>
      <button type="button" className={`btn tile-select${selected ? ' on' : ''}`} aria-pressed={selected} onClick={() => onSelect(device.id, !selected)}>
        {selected ? '✓ Selected' : 'Select'}
        <span className="sr-only"> {device.id}</span>
      </button>
    </article>
  );
}

export const DeviceTile = memo(DeviceTileImpl);
