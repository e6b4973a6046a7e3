// docs/examples/node-client.mjs and docs/examples/python_client.py run unchanged against a real station with a
// simulated fastboot device: they list devices, flash an image to completion, and report refusals.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchStation, type LaunchedStation } from '../../../src/server/launch.js';
import { makeDocumentedCertificates } from '../../helpers/tls-certs.js';
import { makeImage } from '../server/helpers/harness.js';

const root = resolve(import.meta.dirname, '../../..');
let dir: string;
let s: LaunchedStation;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fs-examples-'));
  s = await launchStation({ host: '127.0.0.1', port: 0, dataDir: join(dir, 'data'), usb: false, serial: false, sims: ['fastboot:EXAMPLE1?speed=64M&partitions=boot:64M'] });
});
afterAll(async () => {
  await s.close();
  await rm(dir, { recursive: true, force: true });
});

function run(cmd: string, args: string[], token?: string, extraEnv: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  return new Promise((done) => {
    const env = { ...process.env, FLASH_STATION_TOKEN: token ?? '', ...extraEnv };
    execFile(cmd, args, { cwd: root, env, timeout: 60_000 }, (error, out, err) => done({ code: error ? (error.code as number) ?? -1 : 0, out, err }));
  });
}

const clients: Array<[string, string, string]> = [
  ['node example', process.execPath, join(root, 'docs/examples/node-client.mjs')],
  ['python example', '/usr/bin/python3', join(root, 'docs/examples/python_client.py')],
];

describe.each(clients)('%s', (_name, cmd, script) => {
  it('lists the devices', async () => {
    const r = await run(cmd, [script, s.url]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('connected to flash-station/1');
    expect(r.out).toMatch(/device EXAMPLE1 idle sim/);
  });
  it('flashes an image to completion', async () => {
    const image = await makeImage(dir, `ex-${Math.random().toString(36).slice(2)}.img`, 3 * 1024 * 1024);
    const r = await run(cmd, [script, s.url, 'EXAMPLE1', 'boot', image], s.token);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/job \S+ (started|queued)/);
    expect(r.out).toMatch(/progress 100\.0%/);
    expect(r.out.trim().split('\n').at(-1)).toBe('completed');
  });
  it('reports a refusal and exits 1', async () => {
    const r = await run(cmd, [script, s.url, 'EXAMPLE1', 'boot', join(dir, 'missing.img')], s.token);
    expect(r.code).toBe(1);
    expect(r.err).toContain('image_not_found');
  });
});

describe.each(clients)('%s against hostile frames', (_name, cmd, script) => {
  it('skips frames it cannot use, cuts long lists and prints no terminal control characters', async () => {
    const { WebSocketServer } = await import('ws');
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => wss.once('listening', r));
    const deep = `{"type":"flash_log","x":${'['.repeat(3000)}${']'.repeat(3000)}}`;
    const jobs = Array.from({ length: 80 }, (_, i) => ({ jobId: `evil${i}\u001b[2J`, deviceId: 'd', state: 'running', progress: 'NaN' }));
    wss.on('connection', (ws) => {
      ws.send(JSON.stringify({ type: 'hello', protocol: 'flash-station/1', version: '\u001b]0;owned\u0007x', authenticated: false, timestamp: 1 }));
      ws.send('not json at all');
      ws.send(deep);
      ws.send('[1,2,3]');
      ws.send(JSON.stringify({ type: 'snapshot', devices: [{ id: 'D1', state: 'idle', transport: 'usb', name: 'x'.repeat(10_000) }, 'junk'], jobs, timestamp: 1 }));
    });
    try {
      const port = (wss.address() as { port: number }).port;
      const r = await run(cmd, [script, `ws://127.0.0.1:${port}/flash-progress`]);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(/device D1 idle usb x+/);
      expect(r.out).toMatch(/… and 30 more/);
      expect(r.out.split('\n').filter((l) => l.startsWith('job '))).toHaveLength(50);
      expect(r.out).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
      expect(Math.max(...r.out.split('\n').map((l) => l.length))).toBeLessThan(300);
    } finally {
      await new Promise((r) => wss.close(r));
    }
  });
});

// Over TLS (docs/security.md) each example takes a wss:// URL unchanged; its language's usual variable trusts the CA.
const caVariable: Record<string, string> = { 'node example': 'NODE_EXTRA_CA_CERTS', 'python example': 'SSL_CERT_FILE' };
describe.each(clients)('%s over wss://', (name, cmd, script) => {
  it('lists the devices of a TLS station whose CA it is given', async () => {
    const tlsDir = await mkdtemp(join(tmpdir(), 'fs-examples-tls-'));
    const certs = makeDocumentedCertificates(tlsDir);
    const station = await launchStation({
      host: '127.0.0.1', port: 0, dataDir: join(tlsDir, 'data'), usb: false, serial: false, block: false,
      sims: ['fastboot:EXTLS001?partitions=boot:1M'], tlsCertFile: certs.certFile, tlsKeyFile: certs.keyFile,
    });
    try {
      expect(station.url).toMatch(/^wss:/);
      const r = await run(cmd, [script, station.url], undefined, { [caVariable[name]!]: certs.caFile });
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(/device EXTLS001 idle sim/);
    } finally {
      await station.close();
      await rm(tlsDir, { recursive: true, force: true });
    }
  });
});
