// Prometheus lines for the station's MQTT link, appended to the station's GET /metrics.
import type { LinkState, StationLink } from './station-link.js';

const STATES: LinkState[] = ['connecting', 'connected', 'disconnected', 'refused', 'denied', 'closed'];

function block(out: string[], name: string, type: 'gauge' | 'counter', help: string, samples: Array<[string, number]>): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  for (const [labels, value] of samples) out.push(`${name}${labels} ${value}`);
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export function renderLinkMetrics(link: StationLink): string {
  const out: string[] = [];
  const c = link.counters;
  block(out, 'flash_station_mqtt_link_state', 'gauge', `MQTT link state (1 for the current one); station id "${escapeLabel(link.stationId)}".`,
    STATES.map((s) => [`{state="${s}"}`, link.state === s ? 1 : 0]));
  block(out, 'flash_station_mqtt_connected', 'gauge', 'MQTT link up (1) or not (0).', [['', link.state === 'connected' ? 1 : 0]]);
  block(out, 'flash_station_mqtt_events_queued', 'gauge', 'Events waiting in the on-disk queue for the broker.', [['', link.queued]]);
  block(out, 'flash_station_mqtt_events_queued_bytes', 'gauge', 'Bytes of events waiting in the on-disk queue.', [['', link.queuedBytes]]);
  block(out, 'flash_station_mqtt_events_published_total', 'counter', 'Events acknowledged by the broker.', [['', c.eventsPublished]]);
  block(out, 'flash_station_mqtt_events_dropped_total', 'counter', 'Events dropped because the queue bound was reached while the broker was away.', [['', link.dropped]]);
  block(out, 'flash_station_mqtt_states_published_total', 'counter', 'Retained state publications.', [['', c.statesPublished]]);
  block(out, 'flash_station_mqtt_connects_total', 'counter', 'Successful connections to the broker.', [['', c.connects]]);
  block(out, 'flash_station_mqtt_publish_denied_total', 'counter', 'Publications the broker refused (ACL, MQTT 5 only).', [['', c.publishDenied]]);
  block(out, 'flash_station_mqtt_commands_total', 'counter', 'Commands received on the commands topic, by outcome.', [
    ['{outcome="run"}', c.commandsRun],
    ['{outcome="unauthorized"}', c.commandsUnauthorized],
    ['{outcome="rate_limited"}', c.commandsRateLimited],
    ['{outcome="invalid"}', c.commandsInvalid],
  ]);
  return `${out.join('\n')}\n`;
}
