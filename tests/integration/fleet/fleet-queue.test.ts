// The station's on-disk event queue against a real mosquitto: what was queued while the broker was away survives a
// station restart and is sent in order; past the bound the oldest are dropped, and the drop is reported on `events`
// and in /metrics (the fleet view's count of it: tests/unit/fleet/fleet-store.test.ts).
import { describe, expect, it } from 'vitest';
import { renderLinkMetrics } from '../../../src/fleet/link-metrics.js';
import type { ServerMessage } from '../../../src/protocol/messages.js';
import { until } from '../../helpers/until.js';
import { firstSeen, image, link, pause, persistent, recorder, setup, station } from './harness.js';

describe('station link: the on-disk queue', () => {
  it('keeps events queued while the broker is away across a station restart, and sends them in order', async () => {
    const { dir, broker } = await setup({ brokerExtra: persistent() });
    const rec = recorder(broker.url, 'flash-station/Q1/events');
    await pause(300);
    const st = await station(dir, 'Q1');
    const emitted: string[] = [];
    st.subscribe((m: ServerMessage) => emitted.push(JSON.stringify(m)));
    const l = link(st, dir, 'Q1', broker.url);
    await until(() => l.state === 'connected', 5000, 'link up');
    await broker.stop();
    await until(() => l.state === 'disconnected', 5000, 'link down');
    emitted.length = 0; // what the broker took before it went
    await st.startFlash({ deviceId: 'Q1', partition: 'boot', image: image(dir) });
    await until(() => emitted.some((e) => e.includes('flash_completed')), 20_000, 'job done while the broker was away');
    expect(l.queued).toBe(emitted.length);
    // The station stops (its link cannot say goodbye) and starts again on the same DATA_DIR.
    await l.close(200);
    await st.close();
    const st2 = await station(dir, 'Q1', { device: 'Q1-again' });
    const again = link(st2, dir, 'Q1', broker.url);
    expect(again.queued).toBeGreaterThanOrEqual(emitted.length);
    await broker.restart();
    await until(() => again.queued === 0, 15_000, 'queue drained after the restart');
    const seen = (): string[] => {
      const all = firstSeen(rec.messages);
      const from = all.indexOf(emitted[0] ?? '');
      return from < 0 ? [] : all.slice(from, from + emitted.length);
    };
    await until(() => seen().length >= emitted.length, 5000, `events at the subscriber (${seen().length} of ${emitted.length})`);
    // The first station's events, in order, before anything the second one said.
    expect(seen()).toEqual(emitted);
  });

  it('drops the oldest past the bound and reports how many on events and in /metrics', async () => {
    const { dir, broker } = await setup({ brokerExtra: persistent() });
    const rec = recorder(broker.url, 'flash-station/Q2/events');
    const st = await station(dir, 'Q2');
    const emitted: string[] = [];
    st.subscribe((m: ServerMessage) => emitted.push(JSON.stringify(m)));
    const warnings: string[] = [];
    const l = link(st, dir, 'Q2', broker.url, { queueLimits: { maxEntries: 5, maxBytes: 1 << 20 }, reconnectMs: 1000, warn: (w) => warnings.push(w) });
    await until(() => l.state === 'connected', 5000, 'link up');
    await pause(300);
    await broker.stop();
    await until(() => l.state === 'disconnected', 5000, 'link down');
    emitted.length = 0;
    await st.startFlash({ deviceId: 'Q2', partition: 'boot', image: image(dir) });
    await until(() => emitted.some((e) => e.includes('flash_completed')), 20_000, 'job done while the broker was away');
    expect(emitted.length).toBeGreaterThan(5);
    expect(l.queued).toBe(5);
    const lost = emitted.length - 5;
    expect(l.dropped).toBe(lost);
    expect(warnings.join('\n')).toMatch(/queue is full/);
    expect(renderLinkMetrics(l)).toContain(`flash_station_mqtt_events_dropped_total ${lost}\n`);
    await broker.restart();
    await until(() => l.queued === 0, 15_000, 'queue drained');
    const after = (): string[] => rec.messages.slice(rec.messages.findIndex((m) => m.includes('mqtt_events_dropped')));
    await until(() => after().length >= 6, 5000, 'the drop notice and the kept events');
    expect(JSON.parse(after()[0] ?? '{}')).toMatchObject({ type: 'mqtt_events_dropped', count: lost });
    expect(after().slice(1)).toEqual(emitted.slice(-5));
    expect(renderLinkMetrics(l)).toContain(`flash_station_mqtt_events_dropped_total ${lost}\n`);
  });
});
