// The integration guide's hook, option for option and field for field: live flash jobs over the station's WebSocket.
import { useCallback, useEffect, useMemo, useSyncExternalStore } from 'react';
import type { ClientCommand, ServerMessage } from '../../protocol/messages.js';
import { getConnection, releaseConnection, retainConnection, type ConnectionStatus, type StationConnection } from '../lib/station-connection.js';
import type { ActiveJob } from '../lib/station-state.js';

export type { ConnectionStatus } from '../lib/station-connection.js';
export type { ActiveJob } from '../lib/station-state.js';

export interface UseFlashProgressWebSocketOptions {
  /** `ws(s)://HOST:PORT/flash-progress`, optionally with `?token=`. */
  url: string;
  /** Milliseconds between reconnect attempts (default 3000). */
  reconnectDelay?: number;
  /** Attempts after a lost connection before giving up (default 5). */
  maxReconnectAttempts?: number;
  /** Desktop notifications when a job completes or fails (default false). */
  enableNotifications?: boolean;
  /** Connect on mount (default true). */
  autoConnect?: boolean;
}

export interface UseFlashProgressWebSocketResult {
  isConnected: boolean;
  connectionStatus: ConnectionStatus;
  reconnectAttempts: number;
  /** Unix ms of the last frame received, or null before the first. */
  lastMessageTime: number | null;
  /** Jobs by jobId: running, queued, paused and finished ones until cleared. */
  activeJobs: Map<string, ActiveJob>;
  connect: () => void;
  disconnect: () => void;
  /** Send one frame; false when the socket is not open. */
  send: (message: ClientCommand | Record<string, unknown>) => boolean;
  clearJob: (jobId: string) => void;
  clearAllJobs: () => void;
}

function notify(message: ServerMessage): void {
  // Only the two final events notify; check the type first, as reading Notification.permission is a synchronous
  // round trip to the browser process (with 640 progress frames a second it would cost most of the main thread).
  if (message.type !== 'flash_completed' && message.type !== 'flash_failed') return;
  if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
  if (message.type === 'flash_completed') {
    new Notification('Flash completed', { body: `Device ${message.deviceId} — job ${message.jobId}`, tag: message.jobId });
  } else if (message.type === 'flash_failed') {
    const title = message.reason === 'cancelled' ? 'Flash cancelled' : 'Flash failed';
    new Notification(title, { body: `Device ${message.deviceId}: ${message.error}`, tag: message.jobId });
  }
}

/** The shared connection behind the hook, for views that also need devices, logs and commands. */
export function useStationConnection(options: UseFlashProgressWebSocketOptions): StationConnection {
  const { url, reconnectDelay, maxReconnectAttempts, autoConnect = true } = options;
  const connection = useMemo(() => getConnection({ url, reconnectDelay, maxReconnectAttempts }), [url, reconnectDelay, maxReconnectAttempts]);
  useEffect(() => {
    retainConnection(connection);
    if (autoConnect) connection.connect();
    return () => releaseConnection(connection);
  }, [connection, autoConnect]);
  return connection;
}

export function useFlashProgressWebSocket(options: UseFlashProgressWebSocketOptions): UseFlashProgressWebSocketResult {
  const connection = useStationConnection(options);
  const snapshot = useSyncExternalStore(connection.subscribe, connection.getSnapshot, connection.getSnapshot);
  const enableNotifications = options.enableNotifications ?? false;

  useEffect(() => {
    if (!enableNotifications || typeof Notification === 'undefined') return;
    if (Notification.permission === 'default') void Notification.requestPermission().catch(() => undefined);
    return connection.onEvent(notify);
  }, [connection, enableNotifications]);

  const activeJobs = useMemo(() => new Map(snapshot.station.jobs), [snapshot.station.jobs]);
  const connect = useCallback(() => connection.connect(), [connection]);
  const disconnect = useCallback(() => connection.disconnect(), [connection]);
  const send = useCallback((message: ClientCommand | Record<string, unknown>) => connection.send(message), [connection]);
  const clearJob = useCallback((jobId: string) => connection.clearJob(jobId), [connection]);
  const clearAllJobs = useCallback(() => connection.clearAllJobs(), [connection]);

  return {
    isConnected: snapshot.status === 'connected',
    connectionStatus: snapshot.status,
    reconnectAttempts: snapshot.reconnectAttempts,
    lastMessageTime: snapshot.lastMessageTime,
    activeJobs,
    connect,
    disconnect,
    send,
    clearJob,
    clearAllJobs,
  };
}
