// The main screen: the device grid, the flash form and the live jobs.
import { useCallback, useState } from 'react';
import type { StartFlashCommand } from '../../protocol/messages.js';
import { parseAddress, targetText } from '../../contracts/plan.js';
import { DeviceGrid } from '../components/device-grid.js';
import { FlashForm } from '../components/flash-form.js';
import { LiveProgressMonitor } from '../components/LiveProgressMonitor.js';
import { command } from '../hooks/use-job-actions.js';
import { useCurrentJobs, useDevices, useStationContext, useStationSnapshot } from '../hooks/use-station.js';

export function StationView({ notifications }: { notifications: boolean }) {
  const ctx = useStationContext();
  const snapshot = useStationSnapshot(ctx.connection);
  const devices = useDevices(snapshot);
  const currentJobs = useCurrentJobs(snapshot);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());

  const onSelect = useCallback((deviceId: string, on: boolean) => {
    setSelected((prev) => {
      if (prev.has(deviceId) === on) return prev;
      const next = new Set(prev);
      if (on) next.add(deviceId);
      else next.delete(deviceId);
      return next;
    });
  }, []);
  const [focusRequest, setFocusRequest] = useState(0);
  const onNewJob = useCallback((deviceId: string) => {
    setSelected(new Set([deviceId]));
    setFocusRequest((n) => n + 1);
  }, []);
  const onSelectAll = useCallback((on: boolean) => setSelected(on ? new Set(devices.map((d) => d.id)) : new Set()), [devices]);
  // Devices that went away are no longer targets.
  const live = new Set([...selected].filter((id) => snapshot.station.devices.has(id)));

  const onStart = useCallback(
    async (cmd: StartFlashCommand) => {
      const result = await command(ctx.connection, cmd);
      const ids = Array.isArray(result.jobIds) ? (result.jobIds as string[]) : [String(result.jobId)];
      const status = typeof result.status === 'string' ? result.status : 'started';
      const address = parseAddress(cmd.address);
      const where = targetText(cmd.partition !== undefined ? { partition: cmd.partition } : address !== undefined ? { address } : { whole: true });
      const target = typeof cmd.plan === 'string' ? `plan ${cmd.plan}` : cmd.image ? `${where} ← ${cmd.image}` : '';
      if (target) ctx.connection.annotate(ids, target);
      return `${ids.length > 1 ? `${ids.length} jobs` : `Job ${ids[0]}`} ${status}.`;
    },
    [ctx.connection],
  );

  return (
    <div className="station-view">
      <div className="station-top">
        <DeviceGrid devices={devices} currentJobs={currentJobs} selected={live} onSelect={onSelect} onSelectAll={onSelectAll} onNewJob={onNewJob} />
        <FlashForm devices={devices} selected={live} connected={snapshot.status === 'connected'} onStart={onStart} focusRequest={focusRequest} />
      </div>
      <LiveProgressMonitor
        url={ctx.socketUrl}
        reconnectDelay={ctx.reconnectDelay}
        maxReconnectAttempts={ctx.maxReconnectAttempts}
        enableNotifications={notifications}
        title="Jobs"
      />
    </div>
  );
}
