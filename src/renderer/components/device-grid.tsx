// The grid of device tiles, one per connected device, with select-all for batch flashing.
import type { Device } from '../../protocol/messages.js';
import type { ActiveJob } from '../lib/station-state.js';
import { DeviceTile } from './device-tile.js';

export interface DeviceGridProps {
  devices: readonly Device[];
  currentJobs: ReadonlyMap<string, ActiveJob>;
  selected: ReadonlySet<string>;
  onSelect: (deviceId: string, selected: boolean) => void;
  onSelectAll: (selected: boolean) => void;
  onNewJob: (deviceId: string) => void;
}

export function DeviceGrid({ devices, currentJobs, selected, onSelect, onSelectAll, onNewJob }: DeviceGridProps) {
  return (
    <section className="devices" aria-labelledby="devices-title">
      <header className="section-head">
        <h2 id="devices-title">Devices ({devices.length})</h2>
        {devices.length > 1 ? (
          <button type="button" className="btn subtle" onClick={() => onSelectAll(selected.size < devices.length)}>
            {selected.size < devices.length ? 'Select all' : 'Select none'}
          </button>
        ) : null}
      </header>
      {devices.length === 0 ? (
        <p className="empty">No device connected. Plug one in (a phone or board in its bootloader, an SD card or USB stick), add one with --connect or --serial-port, or start with --demo.</p>
      ) : (
        <div className={`device-grid${devices.length > 16 ? ' compact' : ''}`}>
          {devices.map((d) => (
            <DeviceTile
              key={d.id}
              device={d}
              jobState={currentJobs.get(d.id)?.state}
              jobPercent={Math.floor(currentJobs.get(d.id)?.progress ?? 0)}
              queuePosition={currentJobs.get(d.id)?.queuePosition}
              selected={selected.has(d.id)}
              onSelect={onSelect}
              onNewJob={onNewJob}
            />
          ))}
        </div>
      )}
    </section>
  );
}
