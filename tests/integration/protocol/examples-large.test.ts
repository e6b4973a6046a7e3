// The example clients against a station that sends one very large frame (issue 15, defects 7 and 8): 10 000 outside
// jobs made a 2.7 MB snapshot, past the Python websockets library's 1 MiB default, and the Python example hung on
// connect. Each example takes the frame, prints its first 50 jobs and says how many more there are, and exits 0.
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';

const root = resolve(import.meta.dirname, '../../..');
const clients: Array<[string, string, string]> = [
  ['node example', process.execPath, join(root, 'docs/examples/node-client.mjs')],
  ['python example', '/usr/bin/python3', join(root, 'docs/examples/python_client.py')],
];

function run(cmd: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((done) => {
    execFile(cmd, args, { cwd: root, env: { ...process.env, FLASH_STATION_TOKEN: '' }, timeout: 30_000, maxBuffer: 8 << 20 }, (error, out, err) =>
      done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, out, err }));
  });
}

describe.each(clients)('%s', (_name, cmd, script) => {
  it('takes a 2.7 MB snapshot of 10 000 jobs, prints 50 of them and exits', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => wss.once('listening', r));
    const jobs = Array.from({ length: 10_000 }, (_, i) => ({
      jobId: `outside-${i}`, deviceId: `EXT${i}`, state: 'running', stage: 's'.repeat(180), progress: 1, bytesTransferred: 0,
      totalBytes: 10, transferSpeed: 0, estimatedTimeRemaining: 0, createdAt: 1, target: 'outside agent',
    }));
    const snapshot = JSON.stringify({ type: 'snapshot', devices: [], jobs, timestamp: 1 });
    expect(snapshot.length).toBeGreaterThan(2_500_000);
    wss.on('connection', (ws) => {
      ws.send(JSON.stringify({ type: 'hello', protocol: 'flash-station/1', version: '1', authenticated: false, timestamp: 1 }));
      ws.send(snapshot);
    });
    try {
      const port = (wss.address() as { port: number }).port;
      const r = await run(cmd, [script, `ws://127.0.0.1:${port}/flash-progress`]);
      expect(r.code, r.err).toBe(0);
      expect(r.out.split('\n').filter((l) => l.startsWith('job '))).toHaveLength(50);
      expect(r.out).toMatch(/… and 9950 more/);
    } finally {
      await new Promise((r) => wss.close(r));
    }
  });
});
