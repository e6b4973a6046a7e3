// What the fleet integration tests share: a mosquitto of their own, simulated stations with an MQTT link, a fleet
// view, a raw subscriber, and one cleanup list run after each test.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions } from 'mqtt';
import { afterEach } from 'vitest';
import { createStation, type Station } from '../../../src/core/station.js';
import { SIMULATORS } from '../../../src/families.js';
import { startFleet, type FleetOptions, type RunningFleet } from '../../../src/fleet/fleet-view.js';
import { StationLink, type StationLinkOptions } from '../../../src/fleet/station-link.js';
import { createSimProvider } from '../../../src/sim/index.js';
import { until } from '../../helpers/until.js';
import { startBroker, type Broker } from './broker.js';

export const TOKEN = 'station-token-1';

const cleanups: Array<() => Promise<void> | void> = [];
/** Runs `fn` after the current test (last registered first). */
export const later = (fn: () => Promise<void> | void): void => void cleanups.push(fn);
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

export function tempDir(prefix = 'fs-fleet-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  later(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function setup(opts: { brokerExtra?: string } = {}): Promise<{ dir: string; broker: Broker }> {
  const dir = tempDir();
  // mosquitto started as root runs as user mosquitto: it must reach the files a test gives it.
  chmodSync(dir, 0o755);
  const broker = await startBroker(dir, opts.brokerExtra);
  later(() => broker.stop());
  return { dir, broker };
}

/** Broker lines that keep sessions and retained messages across a broker restart. */
export function persistent(): string {
  const pdir = tempDir('fs-fleet-persist-');
  chmodSync(pdir, 0o777);
  return `allow_anonymous true\npersistence true\npersistence_location ${pdir}/\n`;
}

/** A station in DATA_DIR `dir/name` with one simulated fastboot device whose id is `device` (default: `name`). */
export async function station(dir: string, name: string, opts: { device?: string; speed?: string } = {}): Promise<Station> {
  const dataDir = join(dir, name);
  const spec = `fastboot:${opts.device ?? name}?speed=${opts.speed ?? '8M'}&partitions=boot:8M`;
  const s = await createStation({ dataDir, providers: [createSimProvider([spec], { dataDir, factories: SIMULATORS })] });
  later(() => s.close());
  await until(() => s.devices().length === 1, 5000, 'the simulated device');
  return s;
}

export function link(st: Station, dir: string, name: string, url: string, extra: Partial<StationLinkOptions> & { token?: string } = {}): StationLink {
  const { token = TOKEN, ...rest } = extra;
  const l = new StationLink({ url, stationId: name, commands: true, dataDir: join(dir, name), reconnectMs: 200, ...rest }, { station: st, checkToken: (t) => t === token });
  later(() => l.close(500));
  return l;
}

export async function fleet(url: string, extra: Partial<FleetOptions> = {}): Promise<RunningFleet> {
  const f = await startFleet({ url, port: 0, token: 'fleet-token', resultTimeoutMs: 5000, ...extra });
  later(() => f.close());
  await until(() => f.subscribed, 5000, 'fleet subscriptions');
  return f;
}

export function image(dir: string, size = 2 << 20): string {
  const path = join(dir, `img-${randomBytes(4).toString('hex')}.img`);
  writeFileSync(path, randomBytes(size));
  return path;
}

export interface Recorder {
  messages: string[];
  /** The QoS of each message as delivered. */
  qos: number[];
  topics: string[];
  close(): Promise<void>;
}

/** A subscriber with a persistent session (it keeps what the broker queued for it across its reconnects). */
export function recorder(url: string, topic: string, extra: IClientOptions = {}): Recorder {
  const c = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 50, clean: false, clientId: `rec-${randomBytes(4).toString('hex')}`, ...extra });
  const rec: Recorder = { messages: [], qos: [], topics: [], close: () => new Promise((r) => c.end(false, {}, () => r())) };
  c.on('connect', () => c.subscribe(topic, { qos: 1 }));
  c.on('message', (t, p, packet) => {
    rec.topics.push(t);
    rec.messages.push(p.toString());
    rec.qos.push(packet.qos);
  });
  later(() => rec.close());
  return rec;
}

/** A plain client, connected. */
export async function client(url: string, extra: IClientOptions = {}): Promise<mqtt.MqttClient> {
  const c = mqtt.connect(url, { protocolVersion: 5, ...extra });
  later(() => new Promise<void>((r) => c.end(true, {}, () => r())));
  await new Promise((r) => c.once('connect', r));
  return c;
}

export function publish(c: mqtt.MqttClient, topic: string, payload: string | Buffer, retain = false): Promise<void> {
  return new Promise((r) => c.publish(topic, payload, { qos: 1, retain }, () => r()));
}

/** Each message once, in order of first arrival (QoS 1 is at least once: a resend after a broker restart may repeat). */
export function firstSeen(messages: string[]): string[] {
  return [...new Set(messages)];
}

export const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
