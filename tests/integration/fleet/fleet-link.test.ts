// Station link and fleet view against a real mosquitto: order, retained state, tokens, malformed input, restarts.
import { describe, expect, it } from 'vitest';
import type { ServerMessage } from '../../../src/protocol/messages.js';
import { until } from '../../helpers/until.js';
import { client, fleet, firstSeen, image, link, pause, persistent, publish, recorder, setup, station, TOKEN } from './harness.js';

describe('station link over a real broker', () => {
  it('delivers every event in order, keeps the retained state, and the fleet view sees the station', async () => {
    const { dir, broker } = await setup();
    const f = await fleet(broker.url);
    const rec = recorder(broker.url, 'flash-station/ST1/events');
    const states = recorder(broker.url, 'flash-station/ST1/state');
    await pause(300);
    const st = await station(dir, 'ST1');
    const emitted: string[] = [];
    st.subscribe((m: ServerMessage) => emitted.push(JSON.stringify(m)));
    const l = link(st, dir, 'ST1', broker.url);
    await until(() => l.state === 'connected', 5000, 'link up');
    const { jobId } = await st.startFlash({ deviceId: 'ST1', partition: 'boot', image: image(dir) });
    await until(() => emitted.some((e) => e.includes('flash_completed')), 20_000, 'job done');
    await until(() => rec.messages.length >= emitted.length && l.queued === 0, 5000, 'all events at the subscriber');
    expect(rec.messages).toEqual(emitted);
    expect(new Set(rec.qos)).toEqual(new Set([1]));
    // The retained state follows the job at most once a second (the progress events come far faster).
    const stamps = states.messages.map((m) => (JSON.parse(m) as { timestamp: number }).timestamp);
    expect(emitted.filter((e) => e.includes('flash_progress')).length).toBeGreaterThan(stamps.length);
    for (let i = 1; i < stamps.length; i++) expect(stamps[i]! - stamps[i - 1]!).toBeGreaterThanOrEqual(1000);
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

  it('loses no event when the broker restarts in the middle of a job (QoS 1 and the on-disk queue)', async () => {
    // The broker keeps the subscriber's session across its restart (as a fleet deployment should), so what the
    // station sends the moment it reconnects reaches the subscriber whichever of the two reconnects first.
    const { dir, broker } = await setup({ brokerExtra: persistent() });
    // 6 MiB at 512 KiB/s: the job runs on well before, through, and after the broker's absence.
    const st = await station(dir, 'ST3', { speed: '512K' });
    const emitted: string[] = [];
    st.subscribe((m: ServerMessage) => emitted.push(JSON.stringify(m)));
    const l = link(st, dir, 'ST3', broker.url, { reconnectMs: 1500 }); // the subscriber below is in first
    await until(() => l.state === 'connected', 5000, 'link up');
    // The subscriber reconnects (and resubscribes) every 50 ms, the link every 1.5 s: it is in place first.
    const rec = recorder(broker.url, 'flash-station/ST3/events');
    await pause(300);
    emitted.length = 0; // from here on every event must reach the subscriber
    const { jobId } = await st.startFlash({ deviceId: 'ST3', partition: 'boot', image: image(dir, 6 << 20) });
    await until(() => rec.messages.some((m) => m.includes('flash_progress')), 10_000, 'progress at the subscriber');
    await broker.stop();
    await until(() => l.state === 'disconnected', 5000, 'link down');
    const queuedAt = emitted.length;
    await until(() => emitted.length > queuedAt + 1, 10_000, 'events while the broker is away');
    expect(st.job(jobId)?.state).toBe('running');
    expect(l.queued).toBeGreaterThan(0);
    await broker.restart();
    await until(() => emitted.some((e) => /flash_(completed|failed)/.test(e)), 30_000, `job done: ${JSON.stringify(st.jobs())}`);
    expect(st.job(jobId)?.state).toBe('completed');
    await until(() => l.queued === 0, 15_000, 'queue drained');
    await until(() => firstSeen(rec.messages).length >= emitted.length, 5000, `events at the subscriber (${firstSeen(rec.messages).length} of ${emitted.length}; missing ${emitted.filter((e) => !rec.messages.includes(e)).join(' ').slice(0, 300)})`);
    expect(new Set(emitted).size).toBe(emitted.length);
    expect(firstSeen(rec.messages)).toEqual(emitted);
  });

  it('counts malformed and oversized messages on every topic the fleet reads, and keeps working', async () => {
    const { broker } = await setup({ brokerExtra: 'allow_anonymous true\nmessage_size_limit 0\n' });
    const f = await fleet(broker.url);
    const c = await client(broker.url);
    const pub = (t: string, p: string | Buffer, retain = false): Promise<void> => publish(c, t, p, retain);
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
    await pause(300);
    const c = await client(broker.url);
    const frame = JSON.stringify({ type: 'ping', timestamp: 1, token: TOKEN });
    for (let i = 0; i < 1500; i++) c.publish('flash-station/ST4/commands', frame, { qos: 0 });
    await until(() => l.counters.commandsReceived >= 1500, 10_000, 'flood received');
    expect(l.counters.commandsRateLimited).toBeGreaterThan(500);
    expect(l.counters.commandsRun).toBeLessThanOrEqual(1000);
  });
});
