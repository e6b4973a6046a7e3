// The connection light: a coloured dot and a word, announced politely to screen readers when it changes.
import { formatClock } from '../lib/format.js';
import type { ConnectionStatus } from '../lib/station-connection.js';

const WORDS: Record<ConnectionStatus, string> = {
  idle: 'Not connected',
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  disconnected: 'Disconnected',
  failed: 'Connection lost',
};

export interface ConnectionIndicatorProps {
  status: ConnectionStatus;
  reconnectAttempts: number;
  maxReconnectAttempts?: number;
  lastMessageTime: number | null;
  onReconnect?: () => void;
}

export function ConnectionIndicator({ status, reconnectAttempts, maxReconnectAttempts, lastMessageTime, onReconnect }: ConnectionIndicatorProps) {
  const attempts =
    status === 'reconnecting' && reconnectAttempts > 0
      ? ` (attempt ${reconnectAttempts}${maxReconnectAttempts && Number.isFinite(maxReconnectAttempts) ? `/${maxReconnectAttempts}` : ''})`
      : '';
  const title = lastMessageTime ? `Last message ${formatClock(lastMessageTime)}` : 'No message yet';
  return (
    <div className="conn" data-status={status} title={title}>
      <span className="conn-dot" aria-hidden="true" />
      <span role="status" aria-live="polite">
        {WORDS[status]}
        {attempts}
      </span>
      {(status === 'failed' || status === 'disconnected') && onReconnect ? (
        <button type="button" className="btn small" onClick={onReconnect}>
          Reconnect
        </button>
      ) : null}
    </div>
  );
}
