// The renderer's connection against a real `ws` server: snapshot state, events, reconnect counting, the attempt
// limit, clearJob, and the state rebuilt after the station restarts.
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { StationConnection, type WebSocketFactory } from '../../../src/renderer/lib/station-connection.js';
import { StationFixture, device, job, until } from './ws-fixture.js';

const open: StationConnection[] = [];
const fixtures: StationFixture[] = [];

function connect(fx: StationFixture, opts: { reconnectDelay?: number; maxReconnectAttempts?: number } = {}): StationConnection {
  const c = new StationConnection({
    url: fx.url,
    reconnectDelay: opts.reconnectDelay ?? 30,
    maxReconnectAttempts: opts.maxReconnectAttempts ?? 5,
    WebSocket: WebSocket as unknown as WebSocketFactory,
    schedule: (flush) => setTimeout(flush, 0),
    pingInterval: 0,
  });
  open.push(c);
  c.connect();
  return c;
}

async function fixture(state = { devices: [device('SIM0001'), device('SIM0002')], jobs: [job('j1', 'SIM0001')] }) {
  const fx = new StationFixture(state);
  fixtures.push(fx);
  await fx.start();
  return fx;
}

afterEach(async () => {
  for (const c of open.splice(0)) c.disconnect();
  for (const fx of fixtures.splice(0)) await fx.stop();
});

describe('StationConnection', () => {
  it('builds its state from hello and snapshot', async () => {
    const fx = await fixture();
    const c = connect(fx);
    await until(() => c.getSnapshot().station.synced, 'snapshot');
    const s = c.getSnapshot();
    expect(s.status).toBe('connected');
    expect(s.station.version).toBe('9.9.9');
    expect([...s.station.devices.keys()]).toEqual(['SIM0001', 'SIM0002']);
    expect(s.station.jobs.get('j1')?.progress).toBe(10);
    expect(s.lastMessageTime).toBeGreaterThan(0);
  });

  it('follows flash events to completion and clearJob removes the job for good', async () => {
    const fx = await fixture();
    const c = connect(fx);
    await until(() => c.getSnapshot().station.synced, 'snapshot');
    const t = Date.now();
    fx.broadcast({ type: 'flash_progress', jobId: 'j1', deviceId: 'SIM0001', progress: 55, stage: 'Writing boot', bytesTransferred: 550, totalBytes: 1000, transferSpeed: 100, estimatedTimeRemaining: 4.5, timestamp: t });
    await until(() => c.getSnapshot().station.jobs.get('j1')?.progress === 55, 'progress 55');
    fx.broadcast({ type: 'flash_completed', jobId: 'j1', deviceId: 'SIM0001', timestamp: t + 1 });
    await until(() => c.getSnapshot().station.jobs.get('j1')?.state === 'completed', 'completed');
    expect(c.getSnapshot().station.jobs.get('j1')?.progress).toBe(100);

    c.clearJob('j1');
    await until(() => !c.getSnapshot().station.jobs.has('j1'), 'cleared');
    // The station still lists the finished job; a fresh snapshot must not bring it back.
    fx.state.jobs = [job('j1', 'SIM0001', { state: 'completed', progress: 100 })];
    await c.request({ type: 'get_snapshot' });
    await new Promise((r) => setTimeout(r, 20));
    expect(c.getSnapshot().station.jobs.has('j1')).toBe(false);
  });

  it('counts reconnect attempts and gives up after maxReconnectAttempts', async () => {
    const fx = await fixture();
    const c = connect(fx, { reconnectDelay: 40, maxReconnectAttempts: 3 });
    await until(() => c.getSnapshot().status === 'connected', 'connected');
    const seen = new Set<number>();
    const unsub = c.subscribe(() => seen.add(c.getSnapshot().reconnectAttempts));
    await fx.stop();
    await fx.startRefusing();
    await until(() => c.getSnapshot().status === 'failed', 'failed', 8000);
    unsub();
    expect(c.getSnapshot().reconnectAttempts).toBe(3);
    expect(fx.refusedUpgrades).toBe(3);
    expect([...seen].filter((n) => n > 0).sort()).toEqual([1, 2, 3]);
    // No further tries once failed.
    await new Promise((r) => setTimeout(r, 200));
    expect(fx.refusedUpgrades).toBe(3);
  });

  it('maxReconnectAttempts 0 means no reconnect at all', async () => {
    const fx = await fixture();
    const c = connect(fx, { reconnectDelay: 10, maxReconnectAttempts: 0 });
    await until(() => c.getSnapshot().status === 'connected', 'connected');
    await fx.stop();
    await fx.startRefusing();
    await until(() => c.getSnapshot().status === 'failed', 'failed');
    await new Promise((r) => setTimeout(r, 100));
    expect(fx.refusedUpgrades).toBe(0);
  });

  it('rebuilds the state from the new hello/snapshot after the station restarts', async () => {
    const fx = await fixture();
    const c = connect(fx, { reconnectDelay: 50, maxReconnectAttempts: 20 });
    await until(() => c.getSnapshot().station.synced, 'snapshot');
    await fx.stop();
    await until(() => c.getSnapshot().reconnectAttempts >= 1, 'a reconnect attempt');
    expect(c.getSnapshot().station.synced).toBe(false);
    // The station comes back: SIM0002 is gone, j1 moved on and failed meanwhile, j2 is queued.
    fx.state = {
      devices: [device('SIM0001', 'busy')],
      jobs: [job('j1', 'SIM0001', { state: 'failed', error: 'USB connection lost', progress: 70 }), job('j2', 'SIM0001', { state: 'queued', progress: 0 })],
    };
    await fx.start();
    await until(() => c.getSnapshot().status === 'connected' && c.getSnapshot().station.synced, 'reconnected', 8000);
    const s = c.getSnapshot();
    expect(s.reconnectAttempts).toBe(0);
    expect([...s.station.devices.keys()]).toEqual(['SIM0001']);
    expect(s.station.devices.get('SIM0001')?.state).toBe('busy');
    expect(s.station.jobs.get('j1')?.state).toBe('failed');
    expect(s.station.jobs.get('j1')?.error).toBe('USB connection lost');
    expect(s.station.jobs.get('j2')?.state).toBe('queued');
  });

  it('answers commands by requestId and reports the station’s refusal', async () => {
    const fx = await fixture();
    const c = connect(fx);
    await until(() => c.getSnapshot().status === 'connected', 'connected');
    const ok = await c.request({ type: 'pause_flash', jobId: 'j1' });
    expect(ok.type === 'result' && ok.ok).toBe(true);
    const no = await c.request({ type: 'cancel_flash', jobId: 'nope' });
    expect(no.type === 'result' && !no.ok && no.error.code).toBe('job_not_found');
    // (After connecting, the page also asks for the jobs' logs: get_job_logs.)
    const mine = fx.received.filter((m) => m.type !== 'get_job_logs').map((m) => m.requestId);
    expect(mine).toHaveLength(2);
    expect(new Set(mine).size).toBe(2);
  });

  it('send is false while closed, and a manual disconnect does not reconnect', async () => {
    const fx = await fixture();
    const c = connect(fx, { reconnectDelay: 10 });
    expect(c.send({ type: 'ping' })).toBe(false);
    await until(() => c.getSnapshot().status === 'connected', 'connected');
    expect(c.send({ type: 'ping', timestamp: 1 })).toBe(true);
    c.disconnect();
    await until(() => c.getSnapshot().status === 'disconnected', 'disconnected');
    await new Promise((r) => setTimeout(r, 100));
    expect(c.getSnapshot().status).toBe('disconnected');
    expect(fx.clientCount).toBe(0);
    await expect(c.request({ type: 'get_snapshot' })).rejects.toThrow(/Not connected/);
  });

  it('publishes at most once per scheduled flush however many frames arrive', async () => {
    const fx = await fixture();
    let flushes = 0;
    const c = new StationConnection({
      url: fx.url,
      WebSocket: WebSocket as unknown as WebSocketFactory,
      schedule: (flush) => setTimeout(() => (flushes++, flush()), 30),
      pingInterval: 0,
    });
    open.push(c);
    c.connect();
    await until(() => c.getSnapshot().station.synced, 'snapshot');
    let notified = 0;
    c.subscribe(() => notified++);
    const before = flushes;
    for (let i = 1; i <= 200; i++) {
      fx.broadcast({ type: 'flash_progress', jobId: 'j1', deviceId: 'SIM0001', progress: 10 + i * 0.4, stage: 'w', bytesTransferred: i, totalBytes: 1000, transferSpeed: 1, estimatedTimeRemaining: 1, timestamp: Date.now() });
    }
    await until(() => (c.getSnapshot().station.jobs.get('j1')?.progress ?? 0) >= 89.9, 'last progress');
    expect(notified).toBeLessThan(20);
    expect(flushes - before).toBe(notified);
  });
});
