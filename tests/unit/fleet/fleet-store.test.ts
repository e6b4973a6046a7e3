// FleetStore: what the fleet view keeps of each station from flash-station/+/…, and what it refuses to keep —
// malformed, ill-shaped or oversized messages are counted and ignored, never thrown on.
import { describe, expect, it } from 'vitest';
import { FleetStore } from '../../../src/fleet/fleet-store.js';

const j = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
const device = (id: string): Record<string, unknown> => ({ id, state: 'idle', protocol: 'fastboot' });

describe('FleetStore', () => {
  it('counts malformed JSON and ill-shaped messages by topic, and never throws', () => {
    const s = new FleetStore();
    for (const kind of ['status', 'state', 'events', 'results']) {
      expect(() => s.handle(`flash-station/bad/${kind}`, Buffer.from('{not json'))).not.toThrow();
      s.handle(`flash-station/bad/${kind}`, j([1, 2]));
      s.handle(`flash-station/bad/${kind}`, Buffer.from([0xff, 0xfe, 0x00]));
    }
    s.handle('flash-station/bad/status', j({ online: 'yes' }));
    s.handle('flash-station/bad/state', j({ devices: 'none', jobs: [] }));
    s.handle('flash-station/bad/events', j({ type: 'flash_progress' })); // no jobId
    s.handle('flash-station/bad/results', j({ ok: true })); // no type
    s.handle('flash-station/a/b/events', j({ type: 'x' }));
    s.handle('flash-station/bad/commands', j({ type: 'ping' }));
    expect(s.counters.invalid).toEqual({ status: 4, state: 4, events: 4, results: 4, topic: 2 });
    expect(s.get('bad')?.devices).toEqual([]);
  });

  it('ignores a payload over its bound (a 10 MiB retained message) without parsing it', () => {
    const s = new FleetStore({ maxPayloadBytes: 1024 });
    s.handle('flash-station/big/state', Buffer.alloc(10 << 20, 0x20));
    s.handle('flash-station/big/state', j({ devices: [device('x'.repeat(2000))], jobs: [] }));
    expect(s.counters.oversized).toBe(2);
    expect(s.get('big')).toBeUndefined();
  });

  it('keeps status, state, live jobs from events, counters and last seen', () => {
    const s = new FleetStore();
    s.handle('flash-station/S/status', j({ online: true, timestamp: 1 }), 1000);
    s.handle('flash-station/S/state', j({ devices: [device('D1'), device('D2')], jobs: [], timestamp: 1 }), 1500);
    s.handle('flash-station/S/events', j({ type: 'flash_started', jobId: 'J1', deviceId: 'D1', timestamp: 1900 }), 2000);
    s.handle('flash-station/S/events', j({ type: 'flash_progress', jobId: 'J1', deviceId: 'D1', progress: 42, stage: 'write', timestamp: 2000 }), 2100);
    s.handle('flash-station/S/events', j({ type: 'flash_queued', jobId: 'J2', deviceId: 'D2' }), 2100);
    expect(s.get('S')?.jobs.map((x) => [x.jobId, x.state, x.progress, x.stage])).toEqual([['J1', 'running', 42, 'write'], ['J2', 'queued', 0, '']]);
    s.handle('flash-station/S/events', j({ type: 'flash_paused', jobId: 'J1' }), 2200);
    expect(s.get('S')?.jobs[0]?.state).toBe('paused');
    s.handle('flash-station/S/events', j({ type: 'flash_completed', jobId: 'J1' }), 2300);
    s.handle('flash-station/S/events', j({ type: 'flash_failed', jobId: 'J2', reason: 'cancelled' }), 2400);
    s.handle('flash-station/S/events', j({ type: 'flash_failed', jobId: 'J3', reason: 'device_lost' }), 2400);
    s.handle('flash-station/S/events', j({ type: 'mqtt_events_dropped', count: 7 }), 2500);
    const st = s.get('S');
    expect(st?.jobs).toEqual([]);
    expect(st?.counters).toEqual({ events: 8, completed: 1, failed: 1, cancelled: 1, dropped: 7 });
    expect(st?.lastSeen).toBe(2500);
    expect(s.delayPercentiles()).toMatchObject({ count: 2, p50: 100, max: 100 });
  });

  it('marks a station offline on its Last Will, keeping only its queued jobs; an empty retained status forgets it', () => {
    const s = new FleetStore();
    s.handle('flash-station/S/status', j({ online: true }));
    s.handle('flash-station/S/state', j({ devices: [device('D1')], jobs: [
      { jobId: 'J1', deviceId: 'D1', state: 'running' }, { jobId: 'J2', deviceId: 'D1', state: 'queued' },
    ] }));
    s.handle('flash-station/S/status', j({ online: false }));
    expect(s.get('S')?.online).toBe(false);
    expect(s.get('S')?.jobs.map((x) => x.jobId)).toEqual(['J2']);
    s.handle('flash-station/S/status', Buffer.alloc(0));
    expect(s.get('S')).toBeUndefined();
  });

  it('dates "last seen" by the station, not by the broker\'s retained copies or its Last Will', () => {
    const s = new FleetStore();
    // The view starts long after the station died: the broker hands over its retained status (the Will) and state.
    s.handle('flash-station/GONE/status', j({ online: false, timestamp: 1_000 }), 900_000, true);
    s.handle('flash-station/GONE/state', j({ devices: [], jobs: [], timestamp: 5_000 }), 900_000, true);
    expect(s.get('GONE')).toMatchObject({ online: false, lastSeen: 5_000 });
    // A live station, then its Last Will (stamped when its connection opened) 45 s after it went silent.
    s.handle('flash-station/S/status', j({ online: true, timestamp: 10_000 }), 10_000);
    s.handle('flash-station/S/events', j({ type: 'flash_log', timestamp: 20_000 }), 20_000);
    s.handle('flash-station/S/status', j({ online: false, timestamp: 10_000 }), 65_000);
    expect(s.get('S')).toMatchObject({ online: false, lastSeen: 20_000 });
    // A clean goodbye is the station speaking; a clock ahead of the view's is not believed.
    s.handle('flash-station/S/status', j({ online: false, timestamp: 99_000 }), 70_000);
    expect(s.get('S')?.lastSeen).toBe(70_000);
  });

  it('keeps at most maxStations stations and maxItems devices, counting the refused', () => {
    const s = new FleetStore({ maxStations: 2, maxItems: 3 });
    for (const id of ['A', 'B', 'C']) s.handle(`flash-station/${id}/status`, j({ online: true }));
    expect(s.list().map((x) => x.stationId)).toEqual(['A', 'B']);
    expect(s.counters.stationsRefused).toBe(1);
    s.handle('flash-station/A/state', j({ devices: ['1', '2', '3', '4', '5'].map(device), jobs: [] }));
    expect(s.get('A')?.devices).toHaveLength(3);
  });

  it('hands a command\'s result to whoever awaits its requestId, and keeps the last results', async () => {
    const s = new FleetStore();
    const waiting = s.awaitResult('S', 'r1', 1000);
    s.handle('flash-station/S/results', j({ type: 'result', requestId: 'r0', ok: true }));
    s.handle('flash-station/T/results', j({ type: 'result', requestId: 'r1', ok: true }));
    s.handle('flash-station/S/results', j({ type: 'result', requestId: 'r1', ok: false, error: { code: 'unauthorized' } }));
    await expect(waiting).resolves.toMatchObject({ requestId: 'r1', ok: false });
    expect(s.get('S')?.results.map((r) => r.result.requestId)).toEqual(['r0', 'r1']);
    await expect(s.awaitResult('S', 'never', 10)).resolves.toBeUndefined();
  });
});
