// Station link and fleet view against a real mosquitto: order, retained state, tokens, malformed input, restarts.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { createStation, type Station } from '../../../src/core/station.js';
import { createSimProvider } from '../../../src/sim/index.js';
import { SIMULATORS } from '../../../src/families.js';
import { StationLink } from '../../../src/fleet/station-link.js';
import { startFleet, type RunningFleet } from '../../../src/fleet/fleet-view.js';
import type { ServerMessage } from '../../../src/protocol/messages.js';
import { until } from '../../helpers/until.js';
import { startBroker, type Broker } from './broker.js';

const TOKEN = 'station-token-1';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(opts: { brokerExtra?: string } = {}): Promise<{ dir: string; broker: Broker }> {
  const dir = mkdtempSync(join(tmpdir(), 'fs-fleet-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const broker = await startBroker(dir, opts.brokerExtra);
  cleanups.push(() => broker.stop());
  return { dir, broker };
}

async function station(dir: string, name: string): Promise<Station> {
  const dataDir = join(dir, name);
  const s = await createStation({ dataDir, providers: [createSimProvider([`fastboot:${name}?speed=8M&partitions=boot:8M`], { dataDir, factories: SIMULATORS })] });
  cleanups.push(() => s.close());
  await until(() => s.devices().length === 1, 5000, 'the simulated device');
  return s;
}

function link(st: Station, dir: string, name: string, url: string, extra: Partial<ConstructorParameters<typeof StationLink>[0]> = {}): StationLink {
  const l = new StationLink({ url, stationId: name, commands: true, dataDir: join(dir, name), reconnectMs: 200, ...extra }, { station: st, checkToken: (t) => t === TOKEN });
  cleanups.push(() => l.close(500));
  return l;
}

async function fleet(url: string): Promise<RunningFleet> {
  const f = await startFleet({ url, port: 0, token: 'fleet-token', resultTimeoutMs: 5000 });
  cleanups.push(() => f.close());
  await until(() => f.subscribed, 5000, 'fleet subscriptions');
  return f;
}

function image(dir: string): string {
  const path = join(dir, `img-${randomBytes(4).toString('hex')}.img`);
  writeFileSync(path, randomBytes(2 << 20));
  return path;
}

function recorder(url: string, topic: string): { messages: string[]; close(): Promise<void> } {
  const c = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 50, clean: false, clientId: `rec-${randomBytes(4).toString('hex')}` });
  const messages: string[] = [];
  c.on('connect', () => c.subscribe(topic, { qos: 1 }));
  c.on('message', (_t, p) => messages.push(p.toString()));
  return { messages, close: () => new Promise((r) => c.end(false, {}, () => r())) };
}

describe('station link over a real broker', () => {
  it('delivers every event in order, keeps the retained state, and the fleet view sees the station', async () => {
    const { dir, broker } = await setup();
    const f = await fleet(broker.url);
    const rec = recorder(broker.url, 'flash-station/ST1/events');
    cleanups.push(() => rec.close());
    await until(() => true, 300);
    const st = await station(dir, 'ST1');
    const emitted: string[] = [];
    st.subscribe((m: ServerMessage) => emitted.push(JSON.stringify(m)));
    const l = link(st, dir, 'ST1', broker.url);
    await until(() => l.state === 'connected', 5000, 'link up');
    const { jobId } = await st.startFlash({ deviceId: 'ST1', partition: 'boot', image: image(dir) });
    await until(() => emitted.some((e) => e.includes('flash_completed')), 20_000, 'job done');
    await until(() => rec.messages.length >= emitted.length && l.queued === 0, 5000, 'all events at the subscriber');
    expect(rec.messages).toEqual(emitted);
    const res = await fetch(`http://127.0.0.1:${f.port}/api/stations`);
    const list = (await res.json()) as Array<{ stationId: string; online: boolean; devices: unknown[]; jobs: unknown[] }>;
    expect(list.map((s) => [s.stationId, s.online, s.devices.length])).toEqual([['ST1', true, 1]]);
    expect(f.store.get('ST1')?.counters.completed).toBe(1);
    expect(jobId).toBeTruthy();

    // Retained state and status after a restart of the station: a new subscriber gets them at once.
    await l.close(500);
    const st2 = await station(dir, 'ST1b');
    const l2 = link(st2, dir, 'ST1', broker.url);
    await until(() => l2.state === 'connected', 5000, 'link up again');
    await until(() => l2.counters.statesPublished > 0, 5000, 'state published');
    const late = recorder(broker.url, 'flash-station/ST1/+');
    cleanups.push(() => late.close());
    await until(() => late.messages.length >= 2, 5000, 'retained status and state');
    const state = late.messages.map((m) => JSON.parse(m) as Record<string, unknown>).find((m) => Array.isArray(m.devices)) as { devices: Array<{ id: string }> };
    expect(state.devices.map((d) => d.id)).toEqual(['ST1b']);
    expect(late.messages.map((m) => JSON.parse(m) as { online?: boolean }).some((m) => m.online === true)).toBe(true);
  });

  it('refuses a command with a wrong token and runs one with the right token, through the fleet view', async () => {
    const { dir, broker } = await setup();
    const f = await fleet(broker.url);
    const st = await station(dir, 'ST2');
    const l = link(st, dir, 'ST2', broker.url);
    await until(() => l.state === 'connected' && f.store.get('ST2')?.online === true, 5000, 'station online in the fleet');
    const post = (body: unknown, auth = 'fleet-token'): Promise<Response> => fetch(`http://127.0.0.1:${f.port}/api/stations/ST2/commands`, {
      method: 'POST', headers: { authorization: `Bearer ${auth}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    expect((await post({ type: 'cancel_flash', jobId: 'x', token: TOKEN }, 'wrong')).status).toBe(401);
    const wrong = (await (await post({ type: 'start_flash', deviceId: 'ST2', partition: 'boot', image: image(dir), token: 'not-it' })).json()) as { result: { ok: boolean; error: { code: string } } };
    expect(wrong.result.ok).toBe(false);
    expect(wrong.result.error.code).toBe('unauthorized');
    expect(st.jobs()).toEqual([]);
    const right = (await (await post({ type: 'start_flash', deviceId: 'ST2', partition: 'boot', image: image(dir), token: TOKEN })).json()) as { result: { ok: boolean; jobId: string } };
    expect(right.result.ok).toBe(true);
    expect(st.job(right.result.jobId)).toBeDefined();
    expect(l.counters.commandsUnauthorized).toBe(1);
  });

  it('queues events while the broker is down and sends them in order once it is back', async () => {
    // The broker keeps the subscriber's session across its restart (as a fleet deployment should), so what the
    // station sends the moment it reconnects reaches the subscriber whichever of the two reconnects first.
    const pdir = mkdtempSync(join(tmpdir(), 'fs-fleet-persist-'));
    chmodSync(pdir, 0o777);
    cleanups.push(() => rmSync(pdir, { recursive: true, force: true }));
    const { dir, broker } = await setup({ brokerExtra: `allow_anonymous true\npersistence true\npersistence_location ${pdir}/\n` });
    const st = await station(dir, 'ST3');
    const emitted: string[] = [];
    st.subscribe((m: ServerMessage) => emitted.push(JSON.stringify(m)));
    const l = link(st, dir, 'ST3', broker.url, { reconnectMs: 1500 }); // the subscriber below is in first
    await until(() => l.state === 'connected', 5000, 'link up');
    // The subscriber reconnects (and resubscribes) every 50 ms, the link every 1.5 s: it is in place first.
    const rec = recorder(broker.url, 'flash-station/ST3/events');
    cleanups.push(() => rec.close());
    await until(() => true, 300);
    emitted.length = 0; // from here on every event must reach the subscriber
    await broker.stop();
    await until(() => l.state === 'disconnected', 5000, 'link down');
    await st.startFlash({ deviceId: 'ST3', partition: 'boot', image: image(dir) });
    await until(() => emitted.some((e) => /flash_(completed|failed)/.test(e)), 20_000, `job done while the broker was away: ${JSON.stringify(st.jobs())}`);
    // All of them wait for the broker: on disk, and (the one sent as the link fell) in MQTT.js's in-flight store.
    expect(l.queued).toBeGreaterThanOrEqual(emitted.length - 1);
    await broker.restart();
    await until(() => l.queued === 0, 15_000, 'queue drained');
    await until(() => rec.messages.length >= emitted.length, 5000, `events at the subscriber (${rec.messages.length} of ${emitted.length}, published ${l.counters.eventsPublished}; missing ${emitted.filter((e) => !rec.messages.includes(e)).join(' ').slice(0, 300)})`);
    expect(rec.messages.slice(-emitted.length)).toEqual(emitted);
  });

  it('counts malformed and oversized messages on every topic the fleet reads, and keeps working', async () => {
    const { broker } = await setup({ brokerExtra: 'allow_anonymous true\nmessage_size_limit 0\n' });
    const f = await fleet(broker.url);
    const c = mqtt.connect(broker.url, { protocolVersion: 5 });
    cleanups.push(() => new Promise((r) => c.end(true, {}, () => r())));
    await new Promise((r) => c.once('connect', r));
    const pub = (t: string, p: string | Buffer, retain = false): Promise<void> => new Promise((r) => c.publish(t, p, { qos: 1, retain }, () => r()));
    for (const k of ['status', 'state', 'events', 'results']) await pub(`flash-station/bad/${k}`, '{not json');
    await pub('flash-station/bad/state', JSON.stringify({ devices: 'no' }));
    await pub('flash-station/big/state', Buffer.alloc(10 << 20, 0x20), true);
    await pub('flash-station/ok/status', JSON.stringify({ online: true, timestamp: Date.now() }));
    await until(() => f.store.get('ok')?.online === true, 5000, 'a good message after the bad ones');
    expect(f.store.counters.invalid).toMatchObject({ status: 1, state: 2, events: 1, results: 1 });
    expect(f.store.get('big')).toBeUndefined();
    expect(process.memoryUsage().rss).toBeLessThan(1024 << 20);
    await pub('flash-station/big/state', '', true);
  });

  it('rate-limits a command flood like the WebSocket', async () => {
    const { dir, broker } = await setup();
    const st = await station(dir, 'ST4');
    const l = link(st, dir, 'ST4', broker.url);
    await until(() => l.state === 'connected', 5000, 'link up');
    await until(() => true, 300);
    const c = mqtt.connect(broker.url, { protocolVersion: 5 });
    cleanups.push(() => new Promise((r) => c.end(true, {}, () => r())));
    await new Promise((r) => c.once('connect', r));
    const frame = JSON.stringify({ type: 'ping', timestamp: 1, token: TOKEN });
    for (let i = 0; i < 1500; i++) c.publish('flash-station/ST4/commands', frame, { qos: 0 });
    await until(() => l.counters.commandsReceived >= 1500, 10_000, 'flood received');
    expect(l.counters.commandsRateLimited).toBeGreaterThan(500);
    expect(l.counters.commandsRun).toBeLessThanOrEqual(1000);
  });
});
