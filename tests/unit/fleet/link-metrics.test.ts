// The MQTT link's /metrics lines: exactly one current link state, the queue, drops and command outcomes — what the
// UI's status bar (parseMqttLink) and a Prometheus scrape read.
import { describe, expect, it } from 'vitest';
import { renderLinkMetrics } from '../../../src/fleet/link-metrics.js';
import type { StationLink } from '../../../src/fleet/station-link.js';
import { parseMqttLink } from '../../../src/renderer/lib/mqtt-link.js';

function link(state: StationLink['state']): StationLink {
  const fields = {
    stationId: 'line "2"\\a', state, queued: 12, queuedBytes: 3456, dropped: 7,
    counters: {
      eventsPublished: 100, statesPublished: 9, connects: 2, publishDenied: 1,
      commandsReceived: 10, commandsRun: 4, commandsUnauthorized: 3, commandsRateLimited: 2, commandsInvalid: 1,
    },
  };
  return fields as unknown as StationLink;
}

describe('renderLinkMetrics', () => {
  it('marks exactly the current state, and the status bar reads it back', () => {
    const text = renderLinkMetrics(link('disconnected'));
    const states = [...text.matchAll(/^flash_station_mqtt_link_state\{state="(\w+)"\} (\d)$/gm)].map((m) => [m[1], m[2]]);
    expect(states.filter(([, v]) => v === '1')).toEqual([['disconnected', '1']]);
    expect(states.map(([s]) => s)).toEqual(['connecting', 'connected', 'disconnected', 'refused', 'denied', 'closed']);
    expect(text).toContain('flash_station_mqtt_connected 0\n');
    expect(parseMqttLink(text)).toEqual({ state: 'disconnected', queued: 12 });
    expect(parseMqttLink(renderLinkMetrics(link('denied')))?.state).toBe('denied');
  });

  it('reports the queue, the drops and each command outcome, with an escaped station id', () => {
    const text = renderLinkMetrics(link('connected'));
    for (const line of [
      'flash_station_mqtt_connected 1', 'flash_station_mqtt_events_queued 12', 'flash_station_mqtt_events_queued_bytes 3456',
      'flash_station_mqtt_events_dropped_total 7', 'flash_station_mqtt_events_published_total 100', 'flash_station_mqtt_publish_denied_total 1',
      'flash_station_mqtt_commands_total{outcome="run"} 4', 'flash_station_mqtt_commands_total{outcome="unauthorized"} 3',
      'flash_station_mqtt_commands_total{outcome="rate_limited"} 2', 'flash_station_mqtt_commands_total{outcome="invalid"} 1',
    ]) expect(text).toContain(`${line}\n`);
    expect(text).toContain('station id "line \\"2\\"\\\\a"');
  });
});
