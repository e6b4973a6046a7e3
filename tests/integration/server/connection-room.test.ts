// Unauthenticated local denial of service (issue 15, defect 9): idle read-only connections cannot lock a client with
// the token out, and heavy history exports are bounded instead of starving the station.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import WebSocket from 'ws';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { main } from '../../../src/cli/main.js';
import { launchStation } from '../../../src/server/launch.js';
import { captureIo } from '../../helpers/cli-io.js';
import { createTestStation } from './helpers/test-station.js';
import { connect, startHarness, type Conn, type Harness } from './helpers/harness.js';

let h: Harness;
beforeAll(async () => { h = await startHarness({ maxClients: 8, reservedForAuthenticated: 2, idleEvictMs: 3000 }); });
afterAll(async () => { await h.close(); });

/** Try a WebSocket upgrade; resolves with 101 (open) or the refusal's HTTP status. */
function attempt(url: string): Promise<{ status: number; ws?: WebSocket }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve({ status: 101, ws }));
    ws.once('unexpected-response', (_req, res) => { resolve({ status: res.statusCode ?? 0 }); ws.terminate(); });
    ws.once('error', () => resolve({ status: -1 }));
  });
}

describe('room for clients with the token', () => {
  it('keeps places for the token, and makes room by closing the longest-idle read-only connection', async () => {
    const idle: Conn[] = [];
    for (let i = 0; i < 6; i++) idle.push(await connect(h.url));
    // The read-only places (8 − 2) are taken and nobody has been idle long enough yet: refused.
    expect((await attempt(h.url)).status).toBe(503);
    // A client with the token takes a reserved place at once.
    const withToken = await attempt(`${h.url}?token=${h.token}`);
    expect(withToken.status).toBe(101);
    await new Promise((r) => setTimeout(r, 3100));
    // Now the idle ones may make room: the oldest is closed with 1013 and the newcomer gets in.
    const late = await attempt(h.url);
    expect(late.status).toBe(101);
    expect((await idle[0]!.closed).code).toBe(1013);
    expect(h.server.hub.counters.idleEvicted).toBeGreaterThanOrEqual(1);
    // A read-only client that keeps talking is not the one closed.
    idle[1]!.send({ type: 'ping', timestamp: 1 });
    await new Promise((r) => setTimeout(r, 50));
    expect((await attempt(h.url)).status).toBe(101);
    expect(idle[1]!.ws.readyState).toBe(WebSocket.OPEN);
    for (const c of idle) c.close();
    withToken.ws?.close();
    late.ws?.close();
  });
});

describe('heavy history exports', () => {
  it('streams a large export in pieces, runs a few at once, queues a few more and answers the rest 429', async () => {
    const base = createTestStation({ dir: join(h.dir, 'big'), bytesPerSecond: null });
    const big = await startHarness({
      station: Object.assign(base, { exportCsv: function* (): Generator<string> { for (let i = 0; i < 2000; i++) yield `${'x'.repeat(500)}\r\n`; } }),
    });
    const one = await fetch(`${big.http}/api/history.csv`);
    expect(one.headers.get('transfer-encoding')).toBe('chunked');
    expect((await one.text()).length).toBe(2000 * 502);
    const responses = await Promise.all(Array.from({ length: 20 }, () => fetch(`${big.http}/api/history.csv`).then(async (r) => {
      await r.text();
      return r.status;
    })));
    const ok = responses.filter((s) => s === 200).length;
    const limited = responses.filter((s) => s === 429).length;
    expect(responses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    expect(ok).toBeGreaterThanOrEqual(2);
    expect(limited).toBeGreaterThan(0);
    await big.close();
  });
});

describe('the issue\'s repro at the default size', () => {
  it('1024 idle read-only connections: the UI (token) and the CLI still get in at once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fs-room-'));
    const s = await launchStation({ host: '127.0.0.1', port: 0, dataDir: join(dir, 'data'), usb: false, serial: false, block: false });
    const idle: WebSocket[] = [];
    try {
      let refused = 0;
      for (let i = 0; i < 1024; i += 64) {
        const batch = await Promise.all(Array.from({ length: 64 }, () => attempt(s.url)));
        for (const b of batch) if (b.ws) idle.push(b.ws); else refused++;
      }
      // The read-only places (1024 − 32) are full; the rest were refused, none of them idle long enough to evict.
      expect(idle.length).toBe(1024 - 32);
      expect(refused).toBe(32);
      const ui = await attempt(`${s.url}?token=${encodeURIComponent(s.token)}`);
      expect(ui.status).toBe(101);
      ui.ws?.close();
      const io = captureIo();
      expect(await main(['devices', '--url', s.url, '--data-dir', join(dir, 'data')], io), io.err).toBe(0);
      // Without the token the CLI is told the station is busy and what to do, not that no station answered.
      const ro = captureIo();
      expect(await main(['devices', '--url', s.url, '--data-dir', join(dir, 'no-token-here')], ro)).toBe(2);
      expect(ro.err).toMatch(/it is busy \(503.*give the token/);
    } finally {
      for (const ws of idle) ws.terminate();
      await s.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
