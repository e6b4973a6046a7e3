// Commands over a real mosquitto: obeyed only with --mqtt-commands, only with this station's token (two stations on
// one broker cannot steer each other), and the same over MQTT 3.1.1 as over 5.
import { describe, expect, it } from 'vitest';
import type { ServerMessage } from '../../../src/protocol/messages.js';
import { until } from '../../helpers/until.js';
import { client, fleet, image, link, pause, publish, recorder, setup, station } from './harness.js';

interface Result {
  type: string;
  requestId?: string;
  ok: boolean;
  jobId?: string;
  error?: { code: string };
}

describe('station link: commands', () => {
  it('ignores commands, even with the right token, without --mqtt-commands', async () => {
    const { dir, broker } = await setup();
    const st = await station(dir, 'C0');
    const l = link(st, dir, 'C0', broker.url, { commands: false, token: 'c0-token' });
    await until(() => l.state === 'connected', 5000, 'link up');
    const results = recorder(broker.url, 'flash-station/C0/results');
    const c = await client(broker.url);
    await pause(300);
    await publish(c, 'flash-station/C0/commands', JSON.stringify({ type: 'start_flash', deviceId: 'C0', partition: 'boot', image: image(dir), token: 'c0-token', requestId: 'r0' }));
    await pause(1000);
    expect(st.jobs()).toEqual([]);
    expect(results.messages).toEqual([]);
    expect(l.counters.commandsReceived).toBe(0);
  });

  it('lets no station\'s token steer another station on the same broker', async () => {
    const { dir, broker } = await setup();
    const a = await station(dir, 'CA');
    const b = await station(dir, 'CB');
    const la = link(a, dir, 'CA', broker.url, { token: 'token-of-a' });
    const lb = link(b, dir, 'CB', broker.url, { token: 'token-of-b' });
    await until(() => la.state === 'connected' && lb.state === 'connected', 5000, 'both links up');
    const results = recorder(broker.url, 'flash-station/+/results');
    const c = await client(broker.url);
    await pause(300);
    const command = (deviceId: string, token: string, requestId: string): string => JSON.stringify({ type: 'start_flash', deviceId, partition: 'boot', image: image(dir), token, requestId });
    // A's token on B's commands topic, for B's device and for A's.
    await publish(c, 'flash-station/CB/commands', command('CB', 'token-of-a', 'cross-1'));
    await publish(c, 'flash-station/CB/commands', command('CA', 'token-of-a', 'cross-2'));
    await until(() => results.messages.length >= 2, 5000, 'two refusals');
    const got = results.messages.map((m) => JSON.parse(m) as Result);
    expect(got.map((r) => [r.requestId, r.ok, r.error?.code])).toEqual([['cross-1', false, 'unauthorized'], ['cross-2', false, 'unauthorized']]);
    expect(results.topics).toEqual(['flash-station/CB/results', 'flash-station/CB/results']);
    expect(a.jobs()).toEqual([]);
    expect(b.jobs()).toEqual([]);
    expect(la.counters.commandsReceived).toBe(0);
    // Each token still steers its own station.
    await publish(c, 'flash-station/CB/commands', command('CB', 'token-of-b', 'own-b'));
    await until(() => results.messages.length >= 3, 5000, 'B runs its own command');
    expect(JSON.parse(results.messages[2] ?? '{}')).toMatchObject({ requestId: 'own-b', ok: true });
    expect(b.jobs()).toHaveLength(1);
    expect(a.jobs()).toEqual([]);
  });

  it('works the same over MQTT 3.1.1: events in order, state, a command through the fleet view, the Last Will', async () => {
    const { dir, broker } = await setup();
    const f = await fleet(broker.url, { protocolVersion: 4 });
    const events = recorder(broker.url, 'flash-station/C4/events');
    await pause(300);
    const st = await station(dir, 'C4');
    const emitted: string[] = [];
    st.subscribe((m: ServerMessage) => emitted.push(JSON.stringify(m)));
    const l = link(st, dir, 'C4', broker.url, { protocolVersion: 4, token: 'c4-token' });
    await until(() => l.state === 'connected' && f.store.get('C4')?.devices.length === 1, 5000, 'station and its device in the fleet');
    const post = (body: unknown): Promise<{ result?: Result }> => fetch(`http://127.0.0.1:${f.port}/api/stations/C4/commands`, {
      method: 'POST', headers: { authorization: 'Bearer fleet-token', 'content-type': 'application/json' }, body: JSON.stringify(body),
    }).then((r) => r.json() as Promise<{ result?: Result }>);
    expect((await post({ type: 'start_flash', deviceId: 'C4', partition: 'boot', image: image(dir), token: 'wrong' })).result?.error?.code).toBe('unauthorized');
    const started = await post({ type: 'start_flash', deviceId: 'C4', partition: 'boot', image: image(dir), token: 'c4-token' });
    expect(started.result).toMatchObject({ ok: true });
    await until(() => f.store.get('C4')?.counters.completed === 1, 20_000, 'the job completed, seen by the fleet');
    await until(() => events.messages.length >= emitted.length && l.queued === 0, 5000, 'every event at the subscriber');
    expect(events.messages).toEqual(emitted);
    l.destroy(); // no DISCONNECT: the broker publishes the Last Will
    await until(() => f.store.get('C4')?.online === false, 5000, 'the Last Will over 3.1.1');
  });
});
