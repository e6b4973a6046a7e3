// REST on the station's port: the guide's POST /api/flash/start (JSON and query form), job actions, reads,
// health, Prometheus metrics, the UI with its CSP, and the 401/403/404 answers in the contract's error shape.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeImage, startHarness, type Harness } from './helpers/harness.js';

let h: Harness;
let staticDir: string;
beforeAll(async () => {
  h = await startHarness();
  staticDir = join(h.dir, 'ui');
  await mkdir(join(staticDir, 'assets'), { recursive: true });
  await writeFile(join(staticDir, 'index.html'), '<!doctype html><title>Flash Station</title><script src="/assets/app.js"></script>');
  await writeFile(join(staticDir, 'assets', 'app.js'), 'console.log(1)');
});
afterAll(async () => { await h.close(); });

const auth = (): Record<string, string> => ({ authorization: `Bearer ${h.token}` });

/** Raw request, so a test can send any Host header. */
function raw(path: string, headers: Record<string, string>, method = 'GET'): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: h.server.port, path, method, headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function waitJob(jobId: string, state: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const job = (await (await fetch(`${h.http}/api/jobs/${jobId}`)).json()) as { state: string };
    if (job.state === state) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`job ${jobId} never became ${state}`);
}

describe('REST', () => {
  it('starts a flash with a JSON body and with the guide\'s query form', async () => {
    const image = await makeImage(h.dir, 'r.img', 1024 * 1024);
    const a = await fetch(`${h.http}/api/flash/start`, { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify({ deviceId: 'TEST0001', partition: 'boot', image }) });
    expect(a.status).toBe(200);
    const started = (await a.json()) as { jobId: string; status: string };
    expect(started.status).toBe('started');
    await waitJob(started.jobId, 'completed');
    const b = await fetch(`${h.http}/api/flash/start?device_id=TEST0002&partition=boot&image=${encodeURIComponent(image)}`, { method: 'POST', headers: auth() });
    expect(b.status).toBe(200);
    const second = (await b.json()) as { jobId: string };
    await waitJob(second.jobId, 'completed');
    const jobs = (await (await fetch(`${h.http}/api/jobs`)).json()) as Array<{ jobId: string }>;
    expect(jobs.map((j) => j.jobId)).toContain(second.jobId);
    const history = (await (await fetch(`${h.http}/api/history?limit=1&deviceId=TEST0002`)).json()) as Array<{ deviceId: string }>;
    expect(history).toHaveLength(1);
    expect(history[0]!.deviceId).toBe('TEST0002');
  });

  it('pauses, resumes and cancels a job', async () => {
    h.station.setLimits(undefined, 2 * 1024 * 1024);
    const image = await makeImage(h.dir, 's.img', 16 * 1024 * 1024);
    const r = await fetch(`${h.http}/api/flash/start`, { method: 'POST', headers: auth(), body: JSON.stringify({ deviceId: 'TEST0001', partition: 'boot', image }) });
    const { jobId } = (await r.json()) as { jobId: string };
    await waitJob(jobId, 'running');
    const paused = await fetch(`${h.http}/api/jobs/${jobId}/pause`, { method: 'POST', headers: auth() });
    expect(((await paused.json()) as { state: string }).state).toBe('paused');
    const again = await fetch(`${h.http}/api/jobs/${jobId}/pause`, { method: 'POST', headers: auth() });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe('invalid_state');
    expect((await fetch(`${h.http}/api/jobs/${jobId}/resume`, { method: 'POST', headers: auth() })).status).toBe(200);
    expect((await fetch(`${h.http}/api/jobs/${jobId}/cancel`, { method: 'POST', headers: auth() })).status).toBe(200);
    await waitJob(jobId, 'cancelled');
    h.station.setLimits(undefined, null);
  });

  it('reads devices, health and metrics', async () => {
    const devices = (await (await fetch(`${h.http}/api/devices`)).json()) as Array<{ id: string }>;
    expect(devices.map((d) => d.id)).toContain('TEST0001');
    expect(await (await fetch(`${h.http}/healthz`)).json()).toMatchObject({ ok: true });
    const m = await fetch(`${h.http}/metrics`);
    expect(m.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await m.text();
    expect(text).toMatch(/^flash_station_jobs\{state="completed"\} [1-9]\d*$/m);
    expect(text).toMatch(/^flash_station_bytes_flashed_total [1-9]\d*$/m);
    expect(text).toMatch(/^flash_station_connected_clients \d+$/m);
    expect(text).toMatch(/^flash_station_frames_coalesced_total \d+$/m);
    expect(text).toMatch(/^flash_station_frames_dropped_total\{reason="rate_limited"\} \d+$/m);
    for (const l of text.trim().split('\n')) expect(l).toMatch(/^(# (HELP|TYPE) \w+ .+|\w+(\{\w+="[^"]*"\})? -?\d+(\.\d+)?(e[+-]?\d+)?)$/);
  });

  it('answers 401 to changes without the token and 403 to a foreign Host or Origin', async () => {
    const a = await fetch(`${h.http}/api/flash/start`, { method: 'POST', body: '{}' });
    expect(a.status).toBe(401);
    expect(await a.json()).toMatchObject({ error: { code: 'unauthorized' } });
    const b = await fetch(`${h.http}/api/jobs/x/cancel`, { method: 'POST', headers: { authorization: 'Bearer wrong' } });
    expect(b.status).toBe(401);
    const c = await raw('/api/devices', { host: `attacker.example:${h.server.port}` });
    expect(c.status).toBe(403);
    expect(JSON.parse(c.body)).toMatchObject({ error: { code: 'forbidden' } });
    const d = await raw('/api/jobs/x/cancel', { host: `127.0.0.1:${h.server.port}`, origin: 'https://evil.example', ...auth() }, 'POST');
    expect(d.status).toBe(403);
  });

  it('answers bad requests with {error:{code,message}}', async () => {
    const cases: Array<[string, RequestInit, number, string]> = [
      ['/api/flash/start', { method: 'POST', headers: auth(), body: '{nope' }, 400, 'invalid_json'],
      ['/api/flash/start', { method: 'POST', headers: auth(), body: JSON.stringify({ deviceId: 'TEST0001' }) }, 400, 'bad_request'],
      ['/api/flash/start', { method: 'POST', headers: auth(), body: JSON.stringify({ deviceId: 'NOPE', partition: 'boot', image: '/etc/hostname' }) }, 404, 'device_not_found'],
      ['/api/flash/start', { method: 'POST', headers: auth(), body: JSON.stringify({ deviceId: 'TEST0001', partition: 'boot', image: '/nonexistent.img' }) }, 400, 'image_not_found'],
      ['/api/flash/start', { method: 'POST', headers: auth(), body: 'x'.repeat(2 * 1024 * 1024) }, 413, 'too_large'],
      ['/api/jobs/nope', {}, 404, 'job_not_found'],
      ['/api/nothing', {}, 404, 'not_found'],
      ['/api/history?limit=-3', {}, 400, 'bad_request'],
    ];
    for (const [path, init, status, code] of cases) {
      const r = await fetch(`${h.http}${path}`, init);
      expect(r.status, path).toBe(status);
      const body = (await r.json()) as { error: { code: string; message: string } };
      expect(body.error.code, path).toBe(code);
      expect(body.error.message.length).toBeGreaterThan(5);
    }
  });

  it('sets limits and settings over REST', async () => {
    const r = await fetch(`${h.http}/api/limits`, { method: 'POST', headers: auth(), body: JSON.stringify({ bytesPerSecond: 1048576 }) });
    expect(await r.json()).toEqual({ jobId: null, bytesPerSecond: 1048576 });
    expect((await fetch(`${h.http}/api/limits`, { method: 'POST', headers: auth(), body: JSON.stringify({ bytesPerSecond: -1 }) })).status).toBe(400);
    await fetch(`${h.http}/api/limits`, { method: 'POST', headers: auth(), body: JSON.stringify({ bytesPerSecond: null }) });
    const s = await fetch(`${h.http}/api/settings`);
    expect(await s.json()).toMatchObject({ slotLimit: expect.any(Number) });
    const csv = await fetch(`${h.http}/api/history.csv`);
    expect(csv.headers.get('content-type')).toMatch(/text\/csv/);
    expect((await csv.text()).split('\n')[0]).toContain('jobId');
  });
});

describe('web UI', () => {
  it('serves the UI with a strict CSP naming its own socket, and nothing outside its folder', async () => {
    const ui = await startHarness({ staticDir });
    try {
      const r = await fetch(`${ui.http}/`);
      expect(r.status).toBe(200);
      expect(await r.text()).toContain('<title>Flash Station</title>');
      const csp = r.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain(`connect-src 'self' ws://127.0.0.1:${ui.server.port}`);
      expect(csp).toContain("frame-ancestors 'none'");
      const js = await fetch(`${ui.http}/assets/app.js`);
      expect(js.headers.get('content-type')).toMatch(/javascript/);
      expect((await fetch(`${ui.http}/assets/missing.js`)).status).toBe(404);
      const traversal = await raw('/..%2f..%2f..%2fetc/passwd', { host: `127.0.0.1:${ui.server.port}` }).catch(() => ({ status: 0, body: '' }));
      expect(traversal.body).not.toContain('root:');
      expect((await fetch(`${ui.http}/some/client/route`)).status).toBe(200);
    } finally {
      await ui.close();
    }
  });
  it('answers a plain GET of the socket path with 426', async () => {
    expect((await fetch(`${h.http}/flash-progress`)).status).toBe(426);
  });
});

describe('token regeneration', () => {
  it('replaces the token: the old one stops working, WebSocket sessions turn read-only until they auth again', async () => {
    const own = await startHarness();
    try {
      const { connect } = await import('./helpers/harness.js');
      const c = await connect(`${own.url}?token=${own.token}`);
      expect((await fetch(`${own.http}/api/token/regenerate`, { method: 'POST' })).status).toBe(401);
      const r = await fetch(`${own.http}/api/token/regenerate`, { method: 'POST', headers: { authorization: `Bearer ${own.token}` } });
      expect(r.status).toBe(200);
      const { token } = (await r.json()) as { token: string };
      expect(token).not.toBe(own.token);
      const { readFile } = await import('node:fs/promises');
      expect((await readFile(join(own.dir, 'token'), 'utf8')).trim()).toBe(token);
      await c.next((m) => m.type === 'error' && m.code === 'unauthorized');
      expect(await c.request({ type: 'set_limits', bytesPerSecond: null })).toMatchObject({ ok: false, error: { code: 'unauthorized' } });
      expect(await c.request({ type: 'auth', token })).toMatchObject({ ok: true });
      const old = await fetch(`${own.http}/api/limits`, { method: 'POST', headers: { authorization: `Bearer ${own.token}` }, body: '{"bytesPerSecond":null}' });
      expect(old.status).toBe(401);
      const fresh = await fetch(`${own.http}/api/limits`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '{"bytesPerSecond":null}' });
      expect(fresh.status).toBe(200);
      c.close();
    } finally {
      await own.close();
    }
  });
});
