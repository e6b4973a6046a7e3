// `flash-station fleet`: one MQTT subscriber for every station on the broker, its store, and its HTTP view.
import { randomBytes } from 'node:crypto';
import mqtt, { type IClientOptions } from 'mqtt';
import { pageUrl, prepareBind } from '../server/network-bind.js';
import { defaultStaticDir } from '../server/static-dir.js';
import { newToken } from '../server/token.js';
import { startFleetServer } from './fleet-server.js';
import { FleetStore, type FleetStoreOptions } from './fleet-store.js';
import { connectOptions, type MqttConnectionOptions } from './mqtt-options.js';
import { FLEET_SUBSCRIPTIONS, topicOf } from './topics.js';

export interface FleetOptions extends MqttConnectionOptions {
  host?: string;
  port?: number;
  /** The view's own token (default: $FLASH_FLEET_TOKEN, else a random one for this run). */
  token?: string;
  allowOrigins?: string[];
  /** PEM files: serve the view over HTTPS (contract §8, as `serve` does). */
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** Names the view is reached by on the network (`--public-name`), for the Host and Origin checks. */
  publicNames?: string[];
  /** Allow a non-loopback `host` without TLS (`--insecure-no-tls`). */
  insecureNoTls?: boolean;
  store?: FleetStoreOptions;
  /** The built renderer holding fleet.html (default: dist/renderer, as the station finds its page). */
  staticDir?: string;
  resultTimeoutMs?: number;
  warn?: (line: string) => void;
}

export interface RunningFleet {
  uiUrl: string;
  port: number;
  token: string;
  store: FleetStore;
  /** True once the subscriptions are in place. */
  readonly subscribed: boolean;
  close(): Promise<void>;
}

function metricsText(store: FleetStore, connected: boolean): string {
  const out: string[] = [];
  const add = (name: string, type: string, help: string, samples: Array<[string, number]>): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [l, v] of samples) out.push(`${name}${l} ${v}`);
  };
  const stations = store.list();
  const c = store.counters;
  add('flash_fleet_mqtt_connected', 'gauge', 'Fleet view connected to the broker.', [['', connected ? 1 : 0]]);
  add('flash_fleet_stations', 'gauge', 'Stations known, by link state.', [['{online="true"}', stations.filter((s) => s.online).length], ['{online="false"}', stations.filter((s) => !s.online).length]]);
  add('flash_fleet_messages_total', 'counter', 'MQTT messages received.', [['', c.messages]]);
  add('flash_fleet_messages_invalid_total', 'counter', 'Messages ignored as malformed, by topic.', Object.entries(c.invalid).map(([k, v]) => [`{topic="${k}"}`, v]));
  add('flash_fleet_messages_oversized_total', 'counter', 'Messages ignored for their size.', [['', c.oversized]]);
  add('flash_fleet_stations_refused_total', 'counter', 'Messages from stations past the station limit.', [['', c.stationsRefused]]);
  const d = store.delayPercentiles();
  add('flash_fleet_event_delay_seconds', 'summary', 'Station event timestamp to fleet receipt.', [
    ['{quantile="0.5"}', d.p50 / 1000], ['{quantile="0.99"}', d.p99 / 1000], ['_count', d.count],
  ]);
  const mem = process.memoryUsage();
  add('flash_fleet_process_resident_memory_bytes', 'gauge', 'Resident memory of the fleet view.', [['', mem.rss]]);
  return `${out.join('\n')}\n`;
}

export async function startFleet(options: FleetOptions): Promise<RunningFleet> {
  const host = options.host ?? '127.0.0.1';
  // Station tokens cross this view in command bodies: the network gets it over TLS only, as it gets a station.
  const tls = await prepareBind({
    host, what: 'the fleet view', tlsCertFile: options.tlsCertFile, tlsKeyFile: options.tlsKeyFile, insecureNoTls: options.insecureNoTls,
    publicNames: options.publicNames,
  });
  const base = connectOptions(options);
  const token = options.token ?? process.env.FLASH_FLEET_TOKEN?.trim() ?? newToken();
  const store = new FleetStore(options.store);
  const clientOptions: IClientOptions = {
    ...base,
    clientId: `flash-fleet-${randomBytes(6).toString('hex')}`,
    clean: true,
    resubscribe: true,
    reconnectPeriod: 2000,
    reconnectOnConnackError: true,
  };
  if (clientOptions.protocolVersion === 5) {
    // The broker must not hand the view anything past the store's size limit (a 10 MiB retained message, say).
    clientOptions.properties = { maximumPacketSize: (options.store?.maxPayloadBytes ?? 1024 * 1024) + 4096 };
  }
  const client = mqtt.connect(options.url, clientOptions);
  let subscribed = false;
  client.on('message', (topic, payload, packet) => store.handle(topic, payload, Date.now(), packet.retain));
  client.on('error', (e) => options.warn?.(`mqtt: ${e.message}`));
  client.on('connect', () => {
    client.subscribe(FLEET_SUBSCRIPTIONS, { qos: 1 }, (err, granted) => {
      const refused = (granted ?? []).filter((g) => g.qos >= 0x80).map((g) => g.topic);
      if (err || refused.length) options.warn?.(`mqtt: the broker refused the subscription to ${refused.join(', ') || FLEET_SUBSCRIPTIONS.join(', ')}${err ? ` (${err.message})` : ''}: allow this user to read flash-station/+/#`);
      else subscribed = true;
    });
  });
  const staticDir = options.staticDir ?? defaultStaticDir();
  const server = await startFleetServer({
    host,
    port: options.port ?? 3002,
    token,
    allowOrigins: options.allowOrigins ?? [],
    publicNames: options.publicNames ?? [],
    ...(tls ? { tls } : {}),
    store,
    ...(options.resultTimeoutMs !== undefined ? { resultTimeoutMs: options.resultTimeoutMs } : {}),
    metrics: () => metricsText(store, client.connected),
    ...(staticDir ? { staticDir } : {}),
    send: (stationId, command) => new Promise<void>((resolve, reject) => {
      // Never retained: a token must not stay on the broker, and a command must not replay.
      client.publish(topicOf(stationId, 'commands'), JSON.stringify(command), { qos: 1, retain: false }, (err) => (err ? reject(err) : resolve()));
    }),
  });
  return {
    uiUrl: pageUrl(host, options.publicNames, server.port, tls !== undefined, token),
    port: server.port,
    token,
    store,
    get subscribed() {
      return subscribed;
    },
    async close() {
      await server.close();
      await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
    },
  };
}
