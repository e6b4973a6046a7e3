// The MQTT link in the status bar (serve --mqtt): its state and queued events, polled from /metrics; hidden without a link.
import { useEffect, useState } from 'react';
import { parseMqttLink, type MqttLinkStatus } from '../lib/mqtt-link.js';

const WORDS: Record<string, string> = {
  connecting: 'connecting…', connected: 'connected', disconnected: 'broker unreachable', refused: 'refused by the broker',
  denied: 'denied by the broker ACL', closed: 'closed',
};

export function MqttIndicator({ everyMs = 5000 }: { everyMs?: number }) {
  const [link, setLink] = useState<MqttLinkStatus | undefined>(undefined);
  useEffect(() => {
    let live = true;
    const poll = async (): Promise<void> => {
      try {
        const res = await fetch('/metrics');
        const next = res.ok ? parseMqttLink(await res.text()) : undefined;
        if (live) setLink(next);
      } catch {
        if (live) setLink(undefined);
      }
    };
    void poll();
    const timer = setInterval(() => void poll(), everyMs);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [everyMs]);
  if (!link) return null;
  return (
    <div className="conn" data-status={link.state === 'connected' ? 'connected' : 'disconnected'}>
      <span className="conn-dot" aria-hidden="true" />
      <span role="status" aria-live="polite">
        MQTT {WORDS[link.state] ?? link.state}
        {link.queued > 0 ? ` (${link.queued} queued)` : ''}
      </span>
    </div>
  );
}
