// TLS (contract §8): HTTPS and WSS on the one port with a certificate of our own CA, the CLI over wss:// with --ca,
// and a non-loopback --host refused without TLS unless --insecure-no-tls says the network is trusted.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { launchStation, type LaunchedStation } from '../../../src/server/launch.js';
import { captureIo } from '../../helpers/cli-io.js';

let dir: string;
let s: LaunchedStation;
let ca: Buffer;
const f = (name: string): string => join(dir, name);

/** A local CA and a station certificate for localhost/127.0.0.1 signed by it, as docs/security.md describes. */
function makeCertificates(): void {
  const ossl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Flash Station test CA');
  ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'station.key', '-out', 'station.csr', '-subj', '/CN=localhost');
  execFileSync('sh', ['-c', 'printf "subjectAltName=DNS:localhost,IP:127.0.0.1\\n" > ext.cnf'], { cwd: dir });
  ossl('x509', '-req', '-in', 'station.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'station.pem', '-days', '2', '-extfile', 'ext.cnf');
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fs-tls-'));
  makeCertificates();
  ca = readFileSync(f('ca.pem'));
  s = await launchStation({
    host: '127.0.0.1', port: 0, dataDir: f('data'), usb: false, serial: false, staticDir: f('no-ui'),
    tlsCertFile: f('station.pem'), tlsKeyFile: f('station.key'),
  });
});
afterAll(async () => {
  await s.close();
  await rm(dir, { recursive: true, force: true });
});

function get(path: string, options: { ca?: Buffer; host?: string } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', servername: 'localhost', port: s.port, path, ca: options.ca, headers: { host: options.host ?? `127.0.0.1:${s.port}` } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('a station with --tls-cert and --tls-key', () => {
  it('prints wss:// and https:// lines and answers HTTPS with the CA trusted', async () => {
    expect(s.url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/flash-progress$/);
    expect(s.uiUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/\?token=/);
    expect(await get('/healthz', { ca })).toMatchObject({ status: 200 });
    await expect(get('/healthz')).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
    // The Host check stays on over TLS.
    expect((await get('/healthz', { ca, host: `evil.example:${s.port}` })).status).toBe(403);
  });

  it('speaks WSS: hello over a trusted connection, the https origin accepted and the http one refused', async () => {
    const hello = await new Promise<{ type: string }>((resolve, reject) => {
      const ws = new WebSocket(s.url, { ca, origin: `https://127.0.0.1:${s.port}` });
      ws.once('message', (d: Buffer) => { resolve(JSON.parse(d.toString()) as { type: string }); ws.close(); });
      ws.once('error', reject);
    });
    expect(hello.type).toBe('hello');
    const refused = await new Promise<number>((resolve) => {
      const ws = new WebSocket(s.url, { ca, origin: `http://127.0.0.1:${s.port}` });
      ws.once('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); ws.terminate(); });
      ws.once('error', () => resolve(-1));
    });
    expect(refused).toBe(403);
  });

  it('lets the CLI reach it with --url wss://… --ca FILE, and says so clearly without --ca', async () => {
    const ok = captureIo();
    expect(await main(['devices', '--url', s.url, '--ca', f('ca.pem'), '--json'], ok)).toBe(0);
    expect(JSON.parse(ok.out)).toEqual([]);
    const bad = captureIo();
    expect(await main(['devices', '--url', s.url, '--json'], bad)).toBe(2);
    expect(bad.err).toMatch(/certificate|--ca/i);
  });
});

describe('binding to the network', () => {
  it('refuses a non-loopback --host without TLS, naming the flags that would allow it', async () => {
    await expect(launchStation({ host: '0.0.0.0', port: 0, dataDir: f('data2'), usb: false, serial: false })).rejects.toMatchObject({
      code: 'bad_request', message: expect.stringMatching(/--tls-cert.*--insecure-no-tls/s),
    });
  });

  it('starts on every interface with --insecure-no-tls, keeping the Host check', async () => {
    const lan = await launchStation({ host: '0.0.0.0', port: 0, dataDir: f('data3'), usb: false, serial: false, insecureNoTls: true, publicNames: ['station.lan'], staticDir: f('no-ui') });
    try {
      const code = (host: string): Promise<number> => new Promise((resolve, reject) => {
        httpGet({ host: '127.0.0.1', port: lan.port, path: '/healthz', headers: { host } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject);
      });
      expect(await code(`station.lan:${lan.port}`)).toBe(200);
      expect(await code(`rebind.evil.example:${lan.port}`)).toBe(403);
    } finally {
      await lan.close();
    }
  });

  it('refuses a certificate and key that do not belong together', async () => {
    execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'other.key'], { cwd: dir, stdio: 'ignore' });
    await expect(launchStation({ host: '127.0.0.1', port: 0, dataDir: f('data4'), usb: false, serial: false, tlsCertFile: f('station.pem'), tlsKeyFile: f('other.key') }))
      .rejects.toMatchObject({ code: 'bad_request', message: expect.stringMatching(/do not make a usable pair/) });
    await expect(launchStation({ host: '127.0.0.1', port: 0, dataDir: f('data4'), usb: false, serial: false, tlsCertFile: f('station.pem') }))
      .rejects.toMatchObject({ message: expect.stringMatching(/both --tls-cert/) });
  });
});
