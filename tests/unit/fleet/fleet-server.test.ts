// The fleet view's HTTP side: its page (the renderer's fleet.html), Host and Origin guards, its own token for commands,
// only start/pause/resume/cancel, the station's result answered back, and GET /api/stations.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startFleetServer, type RunningFleetServer } from '../../../src/fleet/fleet-server.js';
import { FleetStore } from '../../../src/fleet/fleet-store.js';

const servers: RunningFleetServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

interface Sent {
  stationId: string;
  command: Record<string, unknown>;
}

/** A fleet server whose "broker" answers every command on the station's results topic, as a station would. */
async function serve(answer = true, staticDir?: string): Promise<{ port: number; store: FleetStore; sent: Sent[] }> {
  const store = new FleetStore();
  const sent: Sent[] = [];
  const server = await startFleetServer({
    host: '127.0.0.1', port: 0, token: 'fleet-token', store, resultTimeoutMs: 300, metrics: () => '', ...(staticDir ? { staticDir } : {}),
    send: async (stationId, command) => {
      sent.push({ stationId, command });
      if (!answer) return;
      const ok = command.token === 'station-token';
      const result = ok ? { type: 'result', requestId: command.requestId, ok: true } : { type: 'result', requestId: command.requestId, ok: false, error: { code: 'unauthorized', message: 'no' } };
      setTimeout(() => store.handle(`flash-station/${stationId}/results`, Buffer.from(JSON.stringify(result))), 5);
    },
  });
  servers.push(server);
  return { port: server.port, store, sent };
}

function call(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: unknown): Promise<{ status: number; json: Record<string, unknown>; text: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { host: `127.0.0.1:${port}`, 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => {
        let json: Record<string, unknown> = {};
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          // the page, or /metrics
        }
        resolve({ status: res.statusCode ?? 0, json, text, headers: res.headers });
      });
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const bearer = { authorization: 'Bearer fleet-token' };
const start = { type: 'start_flash', deviceId: 'D1', partition: 'boot', image: '/i.img', token: 'station-token' };

describe('fleet server', () => {
  it('refuses a foreign Host (DNS rebinding) on every path, and accepts loopback names', async () => {
    const { port } = await serve();
    for (const path of ['/', '/api/stations', '/metrics']) {
      expect((await call(port, 'GET', path, { host: `evil.example:${port}` })).status).toBe(403);
    }
    expect((await call(port, 'POST', '/api/stations/S1/commands', { ...bearer, host: 'evil.example' }, start)).status).toBe(403);
    expect((await call(port, 'GET', '/api/stations', { host: `localhost:${port}` })).status).toBe(200);
    expect((await call(port, 'GET', '/', { host: `127.0.0.1:${port}` })).status).toBe(200);
  });

  it('refuses a command from a foreign Origin before anything is sent, and takes its own', async () => {
    const { port, sent } = await serve();
    const r = await call(port, 'POST', '/api/stations/S1/commands', { ...bearer, origin: 'http://evil.example' }, start);
    expect(r.status).toBe(403);
    expect(sent).toEqual([]);
    const own = await call(port, 'POST', '/api/stations/S1/commands', { ...bearer, origin: `http://127.0.0.1:${port}` }, start);
    expect(own.status).toBe(200);
  });

  it('needs its own token for commands, then passes the station token and answers the station\'s result', async () => {
    const { port, sent } = await serve();
    expect((await call(port, 'POST', '/api/stations/S1/commands', {}, start)).status).toBe(401);
    expect((await call(port, 'POST', '/api/stations/S1/commands', { authorization: 'Bearer station-token' }, start)).status).toBe(401);
    expect(sent).toEqual([]);
    const ok = await call(port, 'POST', '/api/stations/S1/commands', bearer, start);
    expect(ok.status).toBe(200);
    expect(ok.json.result).toMatchObject({ ok: true, requestId: ok.json.requestId });
    expect(sent[0]).toMatchObject({ stationId: 'S1', command: { ...start, requestId: ok.json.requestId } });
    const wrong = await call(port, 'POST', '/api/stations/S1/commands', bearer, { ...start, token: 'other-station-token' });
    expect(wrong.json.result).toMatchObject({ ok: false, error: { code: 'unauthorized' } });
  });

  it('sends only start, pause, resume and cancel, with a station token, to a valid station id', async () => {
    const { port, sent } = await serve();
    for (const type of ['start_flash', 'pause_flash', 'resume_flash', 'cancel_flash']) {
      expect((await call(port, 'POST', '/api/stations/S1/commands', bearer, { type, jobId: 'j', token: 'station-token' })).status).toBe(200);
    }
    expect((await call(port, 'POST', '/api/stations/S1/commands', bearer, { type: 'regenerate_token', token: 'station-token' })).status).toBe(400);
    expect((await call(port, 'POST', '/api/stations/S1/commands', bearer, { type: 'cancel_flash', jobId: 'j' })).status).toBe(400);
    expect((await call(port, 'POST', '/api/stations/a%2Bb/commands', bearer, { ...start })).status).toBe(400);
    expect(sent.map((s) => s.command.type)).toEqual(['start_flash', 'pause_flash', 'resume_flash', 'cancel_flash']);
  });

  it('answers 504 naming the likely causes when no result comes', async () => {
    const { port } = await serve(false);
    const r = await call(port, 'POST', '/api/stations/S1/commands', bearer, start);
    expect(r.status).toBe(504);
    expect(JSON.stringify(r.json)).toMatch(/--mqtt-commands/);
  });

  it('lists stations as GET /api/stations: stationId, online, devices, jobs', async () => {
    const { port, store } = await serve();
    store.handle('flash-station/S1/status', Buffer.from(JSON.stringify({ online: true, timestamp: 1 })));
    store.handle('flash-station/S1/state', Buffer.from(JSON.stringify({ devices: [{ id: 'D1', state: 'idle', protocol: 'fastboot' }], jobs: [], timestamp: 1 })));
    const r = (await call(port, 'GET', '/api/stations')).json as unknown;
    expect(r).toEqual([expect.objectContaining({ stationId: 'S1', online: true, devices: [expect.objectContaining({ id: 'D1' })], jobs: [] })]);
  });

  it('serves the renderer\'s fleet.html and its assets, and says so when the page is not built', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fs-fleet-page-'));
    try {
      mkdirSync(join(dir, 'assets'));
      writeFileSync(join(dir, 'index.html'), '<title>station</title>');
      writeFileSync(join(dir, 'fleet.html'), '<title>fleet page</title>');
      writeFileSync(join(dir, 'assets', 'fleet.js'), 'export {};');
      const { port } = await serve(true, dir);
      const page = await call(port, 'GET', '/');
      expect([page.status, page.text]).toEqual([200, '<title>fleet page</title>']);
      expect(String(page.headers['content-security-policy'])).toMatch(/script-src 'self'/);
      expect((await call(port, 'GET', '/assets/fleet.js')).status).toBe(200);
      expect((await call(port, 'GET', '/assets/none.js')).status).toBe(404);
      expect((await call(port, 'GET', '/index.html')).text).toBe('<title>fleet page</title>');
      rmSync(join(dir, 'fleet.html'));
      const { port: bare } = await serve(true, dir);
      const notBuilt = await call(bare, 'GET', '/');
      expect(notBuilt.text).toMatch(/fleet view is running, but its page has not been built/);
      // with the station page's security headers
      expect(notBuilt.headers['x-frame-options']).toBe('DENY');
      expect(notBuilt.headers['referrer-policy']).toBe('no-referrer');
      expect(String(notBuilt.headers['content-security-policy'])).toMatch(/frame-ancestors 'none'/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
