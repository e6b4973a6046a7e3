// A client written from the guide alone, in Chromium's native WebSocket (playwright-core + Debian chromium): from the
// station's own page it connects, gets hello/snapshot and live events, pings and controls a job; from a foreign page
// the station refuses it.
import { createServer, type Server } from 'node:http';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeImage, startHarness, type Harness } from './helpers/harness.js';

const CHROMIUM = '/usr/bin/chromium';
let h: Harness;
let browser: Browser;
let foreign: Server;

beforeAll(async () => {
  h = await startHarness();
  if (!existsSync(CHROMIUM)) return;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking'] });
  foreign = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<!doctype html><title>elsewhere</title>'); });
  await new Promise<void>((r) => foreign.listen(0, '127.0.0.1', () => r()));
}, 60_000);
afterAll(async () => {
  await browser?.close();
  foreign?.close();
  await h?.close();
});

describe.skipIf(!existsSync(CHROMIUM))('Chromium native WebSocket (skipped where /usr/bin/chromium is not installed)', () => {
  it('works from the station\'s own page, unchanged from the guide', async () => {
    const page = await browser.newPage();
    await page.goto(`${h.http}/`);
    const image = await makeImage(h.dir, 'browser.img', 2 * 1024 * 1024);
    const url = `ws://127.0.0.1:${h.server.port}/flash-progress?token=${h.token}`;
    const result = await page.evaluate(async ({ url, image }) => {
      // The guide's hook in miniature: connect, JSON.parse every message, switch on type, ping.
      const ws = new WebSocket(url);
      const seen: Array<{ type: string; [k: string]: unknown }> = [];
      const wait = (pred: (m: { type: string; [k: string]: unknown }) => boolean): Promise<{ type: string; [k: string]: unknown }> =>
        new Promise((resolve) => {
          const check = (): void => {
            const found = seen.find(pred);
            if (found) resolve(found); else setTimeout(check, 20);
          };
          check();
        });
      ws.onmessage = (event) => { seen.push(JSON.parse(event.data as string)); };
      await new Promise((r) => { ws.onopen = r; });
      ws.send(JSON.stringify({ type: 'ping', timestamp: Date.now() }));
      await wait((m) => m.type === 'pong');
      ws.send(JSON.stringify({ type: 'start_flash', requestId: 'b1', deviceId: 'TEST0001', partition: 'boot', image }));
      const started = await wait((m) => m.type === 'result' && m.requestId === 'b1');
      await wait((m) => m.type === 'flash_completed' && m.jobId === started.jobId);
      ws.close();
      return { types: seen.map((m) => m.type), started };
    }, { url, image });
    expect(result.types.slice(0, 2)).toEqual(['hello', 'snapshot']);
    expect(result.types).toContain('pong');
    expect(result.types).toContain('flash_started');
    expect(result.types).toContain('flash_progress');
    expect(result.started).toMatchObject({ ok: true, status: 'started' });
    await page.close();
  });

  it('runs the typed StationClient unchanged in the browser with the native WebSocket', async () => {
    const { build } = await import('esbuild');
    const bundled = await build({
      entryPoints: ['src/client/index.ts'], bundle: true, write: false, format: 'iife', globalName: 'FlashStationClient',
      platform: 'browser', target: 'chrome120', logLevel: 'silent',
    });
    const page = await browser.newPage();
    await page.goto(`${h.http}/`);
    await page.evaluate(`${bundled.outputFiles[0]!.text}\n;globalThis.FlashStationClient = FlashStationClient;`);
    const image = await makeImage(h.dir, 'typed.img', 1024 * 1024);
    const out = await page.evaluate(async ({ url, token, image }) => {
      const { StationClient } = (globalThis as unknown as { FlashStationClient: typeof import('../../../src/client/index.js') }).FlashStationClient;
      const client = new StationClient({ url, token, WebSocket: WebSocket as unknown as import('../../../src/client/index.js').WebSocketConstructor });
      await client.connect();
      const done = new Promise<string>((resolve) => client.on('flash_completed', (m) => resolve(m.jobId)));
      const { jobId } = await client.startFlash({ deviceId: 'TEST0002', partition: 'boot', image });
      const finished = await done;
      const state = client.state.jobs.get(jobId)?.state;
      const refused = await client.cancel('nope').then(() => 'accepted', (e: { code: string }) => e.code);
      client.close();
      return { jobId, finished, state, authenticated: client.authenticated, refused };
    }, { url: h.url, token: h.token, image });
    expect(out.finished).toBe(out.jobId);
    expect(out.state).toBe('completed');
    expect(out.authenticated).toBe(true);
    expect(out.refused).toBe('job_not_found');
    await page.close();
  });

  it('is refused from a foreign page (cross-site WebSocket hijacking)', async () => {
    const page = await browser.newPage();
    const address = foreign.address() as { port: number };
    await page.goto(`http://127.0.0.1:${address.port}/`);
    const outcome = await page.evaluate(async (url) => {
      const ws = new WebSocket(url);
      return new Promise<string>((resolve) => {
        ws.onopen = () => resolve('open');
        ws.onclose = (e) => resolve(`closed ${e.code}`);
      });
    }, `ws://127.0.0.1:${h.server.port}/flash-progress`);
    expect(outcome).toBe('closed 1006');
    expect(h.server.hub.size).toBe(0);
    await page.close();
  });
});
