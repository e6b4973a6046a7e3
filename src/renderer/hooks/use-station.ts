// The station as views see it: devices, jobs and connection state from the shared connection, batched per frame.
import { createContext, useContext, useMemo, useSyncExternalStore } from 'react';
import type { Device } from '../../protocol/messages.js';
import type { ConnectionSnapshot, StationConnection } from '../lib/station-connection.js';
import { FINAL_STATES, type ActiveJob } from '../lib/station-state.js';

export interface StationContextValue {
  connection: StationConnection;
  token: string;
  socketUrl: string;
  reconnectDelay: number;
  maxReconnectAttempts: number;
}

export const StationContext = createContext<StationContextValue | null>(null);

export function useStationContext(): StationContextValue {
  const value = useContext(StationContext);
  if (!value) throw new Error('useStationContext outside <StationContext.Provider>');
  return value;
}

export function useStationSnapshot(connection: StationConnection): ConnectionSnapshot {
  return useSyncExternalStore(connection.subscribe, connection.getSnapshot, connection.getSnapshot);
}

/** Devices sorted by id. */
export function useDevices(snapshot: ConnectionSnapshot): Device[] {
  const devices = snapshot.station.devices;
  return useMemo(() => [...devices.values()].sort((a, b) => a.id.localeCompare(b.id, undefined, { numeric: true })), [devices]);
}

/** The unfinished job of each device (the newest when several wait). */
export function useCurrentJobs(snapshot: ConnectionSnapshot): Map<string, ActiveJob> {
  const jobs = snapshot.station.jobs;
  return useMemo(() => {
    const current = new Map<string, ActiveJob>();
    for (const job of jobs.values()) {
      if (FINAL_STATES.has(job.state)) continue;
      const had = current.get(job.deviceId);
      if (!had || had.state === 'queued') current.set(job.deviceId, job);
    }
    return current;
  }, [jobs]);
}
