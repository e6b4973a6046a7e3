// The typed client against a real server: connect + auth, commands as promises, typed events, state rebuilt from
// snapshot and events, refusals as StationClientError, and reconnect with backoff after the station restarts.
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { StationClient, StationClientError, type WebSocketConstructor } from '../../../src/client/index.js';
import { startServer } from '../../../src/server/server.js';
import { makeImage, startHarness, type Harness } from '../server/helpers/harness.js';
import { until } from '../../helpers/until.js';

let h: Harness | undefined;
const clients: StationClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await h?.close();
  h = undefined;
});

const WS = WebSocket as unknown as WebSocketConstructor;
const client = (url: string, token?: string, extra: Partial<ConstructorParameters<typeof StationClient>[0]> = {}): StationClient => {
  const c = new StationClient({ url, WebSocket: WS, ...(token ? { token } : {}), initialBackoffMs: 50, maxBackoffMs: 400, ...extra });
  clients.push(c);
  return c;
};

describe('StationClient', () => {
  it('connects, authenticates with an auth frame and runs a flash with typed events', async () => {
    h = await startHarness();
    const c = client(h.url, h.token);
    await c.connect();
    expect(c.status).toBe('connected');
    expect(c.authenticated).toBe(true);
    expect(c.hello?.protocol).toBe('flash-station/1');
    expect(c.devices.map((d) => d.id).sort()).toEqual(['TEST0001', 'TEST0002']);
    const progress: number[] = [];
    c.on('flash_progress', (m) => progress.push(m.progress));
    const done = new Promise<string>((resolve) => c.on('flash_completed', (m) => resolve(m.jobId)));
    const image = await makeImage(h.dir, 'x.img', 2 * 1024 * 1024);
    const started = await c.startFlash({ deviceId: 'TEST0001', partition: 'boot', image });
    expect(await done).toBe(started.jobId);
    expect(progress.at(-1)).toBe(100);
    expect(c.state.jobs.get(started.jobId)).toMatchObject({ state: 'completed', progress: 100, bytesTransferred: 2 * 1024 * 1024 });
    expect(await c.ping()).toBeGreaterThanOrEqual(0);
    // The job reaches history once the station has closed its files, a moment after flash_completed.
    let history = await c.getHistory({ limit: 5 });
    for (let i = 0; i < 50 && !history.some((j) => j.jobId === started.jobId); i++) {
      await new Promise((r) => setTimeout(r, 20));
      history = await c.getHistory({ limit: 5 });
    }
    expect(history.map((j) => j.jobId)).toContain(started.jobId);
  });

  it('rejects refused commands with the protocol error code', async () => {
    h = await startHarness();
    const anon = client(h.url);
    await anon.connect();
    await expect(anon.cancel('nope')).rejects.toMatchObject({ code: 'unauthorized' });
    const c = client(h.url, h.token);
    await c.connect();
    const err = await c.startFlash({ deviceId: 'NOPE', partition: 'boot', image: '/x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StationClientError);
    expect((err as StationClientError).code).toBe('device_not_found');
    await expect(c.pause('nope')).rejects.toMatchObject({ code: 'job_not_found' });
  });

  it('fails connect() at once when nothing listens, and with a wrong token', async () => {
    const c = client('ws://127.0.0.1:1/flash-progress');
    await expect(c.connect()).rejects.toMatchObject({ code: 'unreachable' });
    h = await startHarness();
    const w = client(h.url, 'wrong');
    await expect(w.connect()).rejects.toMatchObject({ code: 'unauthorized' });
  });

  it('reconnects with backoff after the station restarts and rebuilds its state from the new snapshot', async () => {
    h = await startHarness();
    const port = h.server.port;
    const c = client(h.url, h.token, { retryInitialConnect: false });
    await c.connect();
    const statuses: string[] = [];
    c.on('status', (s) => statuses.push(s));
    h.station.publishExternal({ type: 'flash_started', jobId: 'before', deviceId: 'X', stage: 's', totalBytes: 1, timestamp: Date.now() });
    await until(() => c.state.jobs.has('before'), 10_000, 'the client to hear of the job');
    await h.server.close();
    await until(() => c.status !== 'connected', 10_000, 'the client to notice the station went away');
    expect(c.status).toBe('reconnecting');
    // A new station on the same port, without that job.
    const { createTestStation } = await import('../server/helpers/test-station.js');
    const station = createTestStation({ dir: h.dir, devices: ['NEW0001'] });
    const again = await startServer(station, { host: '127.0.0.1', port, dataDir: h.dir, token: h.token });
    try {
      const deadline = Date.now() + 10_000;
      while (c.status !== 'connected' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(c.status).toBe('connected');
      expect(c.authenticated).toBe(true);
      expect(c.devices.map((d) => d.id)).toEqual(['NEW0001']);
      // The new station does not know the job this client saw running: it shows as interrupted, not as still running.
      expect(c.state.jobs.get('before')).toMatchObject({ state: 'failed', errorCode: 'interrupted' });
      expect(statuses).toContain('reconnecting');
      expect(c.reconnectAttempts).toBe(0);
    } finally {
      c.close();
      await again.close();
    }
  });
});
