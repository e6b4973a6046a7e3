// TLS (contract §8): HTTPS and WSS on the one port with a certificate of our own CA (made by the commands
// docs/security.md gives), every client command over wss:// with --ca, a non-loopback --host refused without TLS
// unless --insecure-no-tls, and Host/Origin checks that stay on for a station bound to every interface.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { launchStation, type LaunchedStation } from '../../../src/server/launch.js';
import { captureIo } from '../../helpers/cli-io.js';
import { makeDocumentedCertificates, plainHttp, type Certificates } from '../../helpers/tls-certs.js';
import { until } from '../../helpers/until.js';

let dir: string;
let s: LaunchedStation;
let certs: Certificates;
const f = (name: string): string => join(dir, name);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fs-tls-'));
  certs = makeDocumentedCertificates(dir);
  s = await launchStation({
    host: '127.0.0.1', port: 0, dataDir: f('data'), usb: false, serial: false, block: false, staticDir: f('no-ui'),
    sims: ['fastboot:TLS0001?partitions=boot:4M'],
    tlsCertFile: certs.certFile, tlsKeyFile: certs.keyFile,
  });
});
afterAll(async () => {
  await s.close();
  await rm(dir, { recursive: true, force: true });
});

function get(path: string, options: { ca?: Buffer; host?: string; port?: number; insecure?: boolean } = {}): Promise<{ status: number; body: string }> {
  const port = options.port ?? s.port;
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', servername: 'localhost', port, path, ca: options.ca, rejectUnauthorized: !options.insecure,
      headers: { host: options.host ?? `127.0.0.1:${port}` },
    }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The status of a WebSocket upgrade carrying `origin`: 101 when the handshake went through, else the refusal's. */
function upgrade(url: string, origin: string, options: WebSocket.ClientOptions = {}): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { ...options, origin });
    ws.once('open', () => { resolve(101); ws.close(); });
    ws.once('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); ws.terminate(); });
    ws.once('error', () => resolve(-1));
  });
}

describe('the certificate commands of docs/security.md', () => {
  it('make a CA and a station certificate it signs, for the names in the SAN', () => {
    expect(execFileSync('openssl', ['verify', '-CAfile', certs.caFile, certs.certFile], { encoding: 'utf8' })).toMatch(/: OK/);
    const text = execFileSync('openssl', ['x509', '-in', certs.certFile, '-noout', '-ext', 'subjectAltName'], { encoding: 'utf8' });
    expect(text).toMatch(/DNS:localhost/);
    expect(text).toMatch(/IP Address:127\.0\.0\.1/);
  });
});

describe('a station with --tls-cert and --tls-key', () => {
  it('prints wss:// and https:// lines and answers HTTPS with the CA trusted', async () => {
    expect(s.url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/flash-progress$/);
    expect(s.uiUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/\?token=/);
    expect(await get('/healthz', { ca: certs.ca })).toMatchObject({ status: 200 });
    await expect(get('/healthz')).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
    // The Host check stays on over TLS.
    expect((await get('/healthz', { ca: certs.ca, host: `evil.example:${s.port}` })).status).toBe(403);
    // Plain HTTP to the TLS port: a 400 in plain text saying to use https://, not an empty reply.
    expect(await plainHttp(s.port, '/healthz')).toEqual({ status: 400, body: expect.stringContaining('use https://') });
  });

  it('speaks WSS: hello over a trusted connection, the https origin accepted and the http one refused', async () => {
    const hello = await new Promise<{ type: string }>((resolve, reject) => {
      const ws = new WebSocket(s.url, { ca: certs.ca, origin: `https://127.0.0.1:${s.port}` });
      ws.once('message', (d: Buffer) => { resolve(JSON.parse(d.toString()) as { type: string }); ws.close(); });
      ws.once('error', reject);
    });
    expect(hello.type).toBe('hello');
    expect(await upgrade(s.url, `http://127.0.0.1:${s.port}`, { ca: certs.ca })).toBe(403);
  });

  it('lets the CLI reach it with --url wss://… --ca FILE, and says so clearly without --ca', async () => {
    const ok = captureIo();
    expect(await main(['devices', '--url', s.url, '--ca', certs.caFile, '--json'], ok)).toBe(0);
    expect((JSON.parse(ok.out) as Array<{ id: string }>).map((d) => d.id)).toEqual(['TLS0001']);
    const bad = captureIo();
    expect(await main(['devices', '--url', s.url, '--json'], bad)).toBe(2);
    expect(bad.err).toMatch(/certificate|--ca/i);
    const missing = captureIo();
    expect(await main(['devices', '--url', s.url, '--ca', f('no-such-ca.pem')], missing)).toBe(2);
    expect(missing.err).toMatch(/Cannot read the CA file .*no-such-ca\.pem: it does not exist\./);
    // A --ca that is not the signer's (here not even PEM) is named, not met with "Pass --ca FILE" again.
    await writeFile(f('not-a-ca.pem'), 'hello\n');
    const wrong = captureIo();
    expect(await main(['devices', '--url', s.url, '--ca', f('not-a-ca.pem')], wrong)).toBe(2);
    expect(wrong.err).toMatch(/certificate is not trusted/);
    expect(wrong.err).toContain(`--ca ${f('not-a-ca.pem')} did not vouch for it: give the PEM certificate of the CA that signed it.`);
    expect(wrong.err).not.toContain('Pass --ca FILE');
  });

  it('tells a client that picked the wrong scheme which one to use', async () => {
    const plainUrl = s.url.replace(/^wss:/, 'ws:');
    const toTls = captureIo();
    expect(await main(['devices', '--url', plainUrl], toTls)).toBe(2);
    expect(toTls.err).toContain(`something there refused the WebSocket handshake. If the station serves TLS (--tls-cert), use ${s.url} and --ca FILE.`);
    const plain = await launchStation({ host: '127.0.0.1', port: 0, dataDir: f('data-plain'), usb: false, serial: false, block: false, staticDir: f('no-ui') });
    try {
      const toPlain = captureIo();
      expect(await main(['devices', '--url', plain.url.replace(/^ws:/, 'wss:'), '--ca', certs.caFile], toPlain)).toBe(2);
      expect(toPlain.err).toContain(`it does not speak TLS on that port. Use ${plain.url}`);
      // --ca with a plain ws:// URL: the command works, and says the file played no part.
      const caOnPlain = captureIo();
      expect(await main(['devices', '--url', plain.url, '--ca', certs.caFile], caOnPlain)).toBe(0);
      expect(caOnPlain.err).toContain(`warning: --ca is for wss:// stations; ${plain.url} is plain ws:// (no TLS), so it is not used`);
    } finally {
      await plain.close();
    }
  });

  it('runs every client command over wss:// with --ca: flash, jobs, watch, pause, resume, cancel', async () => {
    const image = f('boot.img');
    await writeFile(image, Buffer.alloc(256 * 1024, 0x5a));
    const conn = ['--url', s.url, '--ca', certs.caFile, '--token', s.token];

    const watching = captureIo();
    const watch = main(['watch', '--json', ...conn], watching);
    await until(() => watching.out.includes('"snapshot"'), 10_000, 'watch over wss got its snapshot');

    const flashed = captureIo();
    expect(await main(['flash', ...conn, '--json', '--device', 'TLS0001', 'boot', image], flashed)).toBe(0);
    expect(flashed.out.trim().split('\n').map((l) => (JSON.parse(l) as { type: string }).type).at(-1)).toBe('flash_completed');
    await until(() => watching.out.includes('"flash_completed"'), 10_000, 'watch saw the job complete');
    watching.signal();
    expect(await watch).toBe(0);

    const jobs = captureIo();
    expect(await main(['jobs', '--json', ...conn], jobs)).toBe(0);
    expect((JSON.parse(jobs.out) as Array<{ deviceId: string; state: string }>)).toContainEqual(expect.objectContaining({ deviceId: 'TLS0001', state: 'completed' }));
    for (const action of ['pause', 'resume', 'cancel']) {
      const t = captureIo();
      expect(await main([action, '--all', ...conn], t), `${action}: ${t.err}`).toBe(0);
      expect(t.out).toMatch(new RegExp(`No jobs to ${action}`));
    }
  }, 30_000); // (six CLI processes, each starting Node: slow on a loaded 2-core machine)

  it('serve prints the listening wss:// and ui https:// lines of contract §8', async () => {
    const io = captureIo();
    const serving = main(['serve', '--port', '0', '--data-dir', f('data-cli'), '--no-usb', '--no-serial', '--no-block', '--static-dir', f('no-ui'),
      '--tls-cert', certs.certFile, '--tls-key', certs.keyFile], io);
    await until(() => io.out.split('\n').length > 2, 20_000, `serve printed its two lines (${io.err})`);
    const [listening, ui] = io.out.split('\n');
    expect(listening).toMatch(/^listening wss:\/\/127\.0\.0\.1:\d+\/flash-progress$/);
    expect(ui).toMatch(/^ui https:\/\/127\.0\.0\.1:\d+\/\?token=[^&\s]+$/);
    const port = Number(/:(\d+)\//.exec(ui!)![1]);
    expect((await get('/healthz', { ca: certs.ca, port })).status).toBe(200);
    io.signal();
    expect(await serving).toBe(0);
  });

  it('serve stops at start with a clear error for TLS files it cannot use', async () => {
    await writeFile(f('garbage.pem'), 'not a certificate\n');
    const cases: Array<[string[], RegExp]> = [
      [['--tls-cert', f('missing.pem'), '--tls-key', certs.keyFile], /Cannot read the TLS certificate .*missing\.pem: it does not exist\./],
      [['--tls-cert', certs.certFile, '--tls-key', f('missing.key')], /Cannot read the TLS key .*missing\.key: it does not exist\./],
      [['--tls-cert', f('garbage.pem'), '--tls-key', certs.keyFile], /garbage\.pem .*do not make a usable pair/],
      [['--tls-cert', certs.certFile, '--tls-key', f('garbage.pem')], /garbage\.pem do not make a usable pair/],
      [['--tls-cert', certs.certFile], /TLS needs both --tls-cert FILE and --tls-key FILE/],
    ];
    for (const [flags, why] of cases) {
      const io = captureIo();
      const code = await main(['serve', '--port', '0', '--data-dir', f('data-bad'), '--no-usb', '--no-serial', '--no-block', ...flags], io);
      expect(code, flags.join(' ')).not.toBe(0);
      expect(io.out, flags.join(' ')).toBe('');
      expect(io.err, flags.join(' ')).toMatch(why);
    }
  });
});

describe('binding to the network', () => {
  it('refuses a non-loopback --host without TLS, naming the flags that would allow it', async () => {
    await expect(launchStation({ host: '0.0.0.0', port: 0, dataDir: f('data2'), usb: false, serial: false, block: false })).rejects.toMatchObject({
      code: 'bad_request', message: expect.stringMatching(/--tls-cert.*--insecure-no-tls/s),
    });
    const io = captureIo();
    const code = await main(['serve', '--host', '0.0.0.0', '--port', '0', '--data-dir', f('data2'), '--no-usb', '--no-serial', '--no-block'], io);
    expect(code).not.toBe(0);
    expect(code).toBe(2); // bad usage, as `fleet` says it
    expect(io.err).toMatch(/--host 0\.0\.0\.0 would offer the station to the network over plain HTTP.*--tls-cert FILE --tls-key FILE.*--insecure-no-tls/);
  });

  it('starts on every interface with --insecure-no-tls, keeping the Host and Origin checks', async () => {
    const lan = await launchStation({ host: '0.0.0.0', port: 0, dataDir: f('data3'), usb: false, serial: false, block: false, insecureNoTls: true, publicNames: ['station.lan'], staticDir: f('no-ui') });
    try {
      // The printed lines name the station by a name its Host check accepts, not 0.0.0.0.
      expect(lan.url).toBe(`ws://station.lan:${lan.port}/flash-progress`);
      expect(lan.uiUrl).toMatch(new RegExp(`^http://station\\.lan:${lan.port}/\\?token=`));
      const code = (host: string): Promise<number> => new Promise((resolve, reject) => {
        httpGet({ host: '127.0.0.1', port: lan.port, path: '/healthz', headers: { host } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject);
      });
      expect(await code(`station.lan:${lan.port}`)).toBe(200);
      expect(await code(`0.0.0.0:${lan.port}`)).toBe(403);
      expect(await code(`rebind.evil.example:${lan.port}`)).toBe(403);
      const ws = `ws://127.0.0.1:${lan.port}/flash-progress`;
      expect(await upgrade(ws, `http://station.lan:${lan.port}`)).toBe(101);
      expect(await upgrade(ws, `http://evil:${lan.port}`)).toBe(403);
      expect(await upgrade(ws, `http://evil.example:${lan.port}`)).toBe(403);
    } finally {
      await lan.close();
    }
  });

  it('with TLS on every interface, takes its --public-name over https only and refuses http://evil:PORT', async () => {
    const lan = await launchStation({
      host: '0.0.0.0', port: 0, dataDir: f('data5'), usb: false, serial: false, block: false, staticDir: f('no-ui'),
      tlsCertFile: certs.certFile, tlsKeyFile: certs.keyFile, publicNames: ['station.lan', 'bench7'],
    });
    try {
      expect(lan.url).toBe(`wss://station.lan:${lan.port}/flash-progress`);
      expect(lan.uiUrl).toMatch(new RegExp(`^https://station\\.lan:${lan.port}/\\?token=`));
      const at = { port: lan.port, insecure: true };
      for (const host of ['station.lan', 'bench7', 'localhost', '127.0.0.1']) expect((await get('/healthz', { ...at, host: `${host}:${lan.port}` })).status, host).toBe(200);
      for (const host of ['evil', 'evil.example', '0.0.0.0']) expect((await get('/healthz', { ...at, host: `${host}:${lan.port}` })).status, host).toBe(403);
      const wss = `wss://127.0.0.1:${lan.port}/flash-progress`;
      const tls = { rejectUnauthorized: false };
      for (const origin of [`https://station.lan:${lan.port}`, `https://bench7:${lan.port}`, `https://localhost:${lan.port}`]) {
        expect(await upgrade(wss, origin, tls), origin).toBe(101);
      }
      for (const origin of [`http://evil:${lan.port}`, `https://evil:${lan.port}`, `http://station.lan:${lan.port}`, 'null']) {
        expect(await upgrade(wss, origin, tls), origin).toBe(403);
      }
      // A changing request from a page of another origin is refused before it acts, token or not.
      const post = await new Promise<number>((resolve, reject) => {
        const req = request({
          host: '127.0.0.1', port: lan.port, path: '/api/jobs/nope/cancel', method: 'POST', rejectUnauthorized: false,
          headers: { host: `station.lan:${lan.port}`, origin: `http://evil:${lan.port}`, authorization: `Bearer ${lan.token}` },
        }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
        req.on('error', reject);
        req.end();
      });
      expect(post).toBe(403);
    } finally {
      await lan.close();
    }
  });

  it('refuses a certificate and key that do not belong together', async () => {
    execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'other.key'], { cwd: dir, stdio: 'ignore' });
    await expect(launchStation({ host: '127.0.0.1', port: 0, dataDir: f('data4'), usb: false, serial: false, tlsCertFile: certs.certFile, tlsKeyFile: f('other.key') }))
      .rejects.toMatchObject({ code: 'bad_request', message: expect.stringMatching(/do not make a usable pair/) });
  });
});
