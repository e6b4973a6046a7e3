// The fleet view gets the station's TLS treatment (contract §8): station tokens cross it in command bodies, so a
// non-loopback --host is refused without TLS or --insecure-no-tls, --tls-cert/--tls-key serve it over HTTPS, and the
// Host/Origin checks keep to its names (--public-name) on every interface. No broker is needed for the HTTP side.
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { startFleet } from '../../../src/fleet/fleet-view.js';
import { captureIo } from '../../helpers/cli-io.js';
import { makeDocumentedCertificates, plainHttp, type Certificates } from '../../helpers/tls-certs.js';
import { until } from '../../helpers/until.js';

// Nothing listens on port 1: the view starts and keeps retrying the broker in the background.
const NO_BROKER = 'mqtt://127.0.0.1:1';
let dir: string;
let certs: Certificates;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fs-fleet-tls-'));
  certs = makeDocumentedCertificates(dir);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function call(port: number, path: string, options: { host: string; origin?: string; method?: string; token?: string; body?: string; ca?: Buffer }): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: options.host, 'content-type': 'application/json' };
    if (options.origin) headers.origin = options.origin;
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const req = request({
      host: '127.0.0.1', servername: 'localhost', port, path, method: options.method ?? 'GET', headers,
      ...(options.ca ? { ca: options.ca } : { rejectUnauthorized: false }),
    }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('flash-station fleet over the network', () => {
  it('refuses a non-loopback --host without TLS, naming the flags that would allow it', async () => {
    await expect(startFleet({ url: NO_BROKER, host: '0.0.0.0', port: 0, token: 't', warn: () => undefined })).rejects.toMatchObject({
      code: 'bad_request', message: expect.stringMatching(/the fleet view to the network over plain HTTP.*--tls-cert.*--insecure-no-tls/s),
    });
    const io = captureIo();
    expect(await main(['fleet', '--mqtt', NO_BROKER, '--host', '0.0.0.0', '--port', '0'], io)).toBe(2);
    expect(io.out).toBe('');
    expect(io.err).toMatch(/--insecure-no-tls/);
  });

  it('serves HTTPS with --tls-cert/--tls-key and prints ui https://', async () => {
    const io = captureIo();
    const running = main(['fleet', '--mqtt', NO_BROKER, '--port', '0', '--tls-cert', certs.certFile, '--tls-key', certs.keyFile], io);
    await until(() => io.out.includes('\n'), 20_000, 'fleet printed its ui line');
    const ui = io.out.trim();
    expect(ui).toMatch(/^ui https:\/\/127\.0\.0\.1:\d+\/\?token=\S+$/);
    const port = Number(/:(\d+)\//.exec(ui)![1]);
    expect(await call(port, '/healthz', { host: `127.0.0.1:${port}`, ca: certs.ca })).toBe(200);
    expect(await call(port, '/healthz', { host: `evil.example:${port}`, ca: certs.ca })).toBe(403);
    expect(await plainHttp(port, '/')).toEqual({ status: 400, body: expect.stringContaining('use https://') });
    io.signal();
    expect(await running).toBe(0);
  });

  it('on every interface with TLS: its --public-name over https, and an http://evil:PORT page refused', async () => {
    const fleet = await startFleet({
      url: NO_BROKER, host: '0.0.0.0', port: 0, token: 'fleet-token', warn: () => undefined,
      tlsCertFile: certs.certFile, tlsKeyFile: certs.keyFile, publicNames: ['fleet.lan'],
    });
    try {
      const { port } = fleet;
      expect(fleet.uiUrl).toMatch(new RegExp(`^https://fleet\\.lan:${port}/\\?token=`));
      expect(await call(port, '/api/stations', { host: `fleet.lan:${port}` })).toBe(200);
      expect(await call(port, '/api/stations', { host: `rebind.evil.example:${port}` })).toBe(403);
      const command = { method: 'POST', token: 'fleet-token', body: JSON.stringify({ type: 'not_a_command' }), host: `fleet.lan:${port}` };
      // Past the Origin check the command is judged on its body (400); from another page it never gets there.
      expect(await call(port, '/api/stations/S1/commands', { ...command, origin: `https://fleet.lan:${port}` })).toBe(400);
      for (const origin of [`http://evil:${port}`, `https://evil:${port}`, `http://fleet.lan:${port}`]) {
        expect(await call(port, '/api/stations/S1/commands', { ...command, origin }), origin).toBe(403);
      }
    } finally {
      await fleet.close();
    }
  });
});
