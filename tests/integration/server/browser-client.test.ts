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
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking'] });
  foreign = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<!doctype html><title>elsewhere</title>'); });
  await new Promise<void>((r) => foreign.listen(0, '127.0.0.1', () => r()));
}, 60_000);
afterAll(async () => {
  await browser?.close();
  foreign?.close();
  await h?.close();
});

describe.skipIf(!existsSync(CHROMIUM))('Chromium native WebSocket', () => {
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
