// MQTT topic names of the fleet link (contract §9) and the station-id rules that keep them unambiguous.
import { hostname } from 'node:os';

export const TOPIC_ROOT = 'flash-station';
export const TOPIC_KINDS = ['status', 'state', 'events', 'commands', 'results'] as const;
export type TopicKind = (typeof TOPIC_KINDS)[number];

/** MQTT caps a topic at 65535 UTF-8 bytes; a station id far shorter than that is plenty and keeps topics readable. */
export const MAX_STATION_ID_LENGTH = 128;

/**
 * Why `id` cannot be a station id, or undefined when it can. `/` would add topic levels; `+` and `#` are wildcards
 * (a publish containing them is a protocol error); NUL and control characters are refused by brokers; a leading `$`
 * is reserved for broker topics ($SYS).
 */
export function stationIdProblem(id: string): string | undefined {
  if (id.length === 0) return 'the station id is empty';
  if (id.length > MAX_STATION_ID_LENGTH) return `the station id is longer than ${MAX_STATION_ID_LENGTH} characters`;
  const bad = /[/+#]/.exec(id);
  if (bad) return `the station id contains "${bad[0]}", which MQTT topics reserve (/ separates levels, + and # are wildcards)`;
  if (/[\u0000-\u001f\u007f]/.test(id)) return 'the station id contains a control character';
  if (id.startsWith('$')) return 'the station id starts with "$", which brokers reserve for their own topics';
  return undefined;
}

/** The default station id: the host name, with anything a topic level may not hold replaced by `-`. */
export function defaultStationId(): string {
  const name = hostname().replace(/[/+#\u0000-\u001f\u007f]/g, '-').replace(/^\$/, '-').slice(0, MAX_STATION_ID_LENGTH);
  return name || 'flash-station';
}

export function topicOf(stationId: string, kind: TopicKind): string {
  return `${TOPIC_ROOT}/${stationId}/${kind}`;
}

/** The subscriptions of the fleet view: every station's outbound topics. */
export const FLEET_SUBSCRIPTIONS = (['status', 'state', 'events', 'results'] as const).map((k) => `${TOPIC_ROOT}/+/${k}`);

/** Splits `flash-station/ID/KIND`; undefined for any other topic. */
export function parseTopic(topic: string): { stationId: string; kind: TopicKind } | undefined {
  const parts = topic.split('/');
  if (parts.length !== 3 || parts[0] !== TOPIC_ROOT) return undefined;
  const [, stationId, kind] = parts as [string, string, string];
  if (stationIdProblem(stationId) !== undefined) return undefined;
  if (!(TOPIC_KINDS as readonly string[]).includes(kind)) return undefined;
  return { stationId, kind: kind as TopicKind };
}
