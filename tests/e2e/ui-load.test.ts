// Smoothness under load: the built UI in headless Chromium receives 64 running jobs × 10 progress frames per second
// from a WebSocket source for 10 s, and the page measures its own long tasks (PerformanceObserver 'longtask') and
// frame rate (requestAnimationFrame). The figures go to test-results/ui-load.json and the test output.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import type { Device, Job, ServerMessage } from '../../src/protocol/messages.js';
import { ARTIFACTS, ensureBuilt, openBrowser, root, screenshot, type Browser } from './harness.js';

const JOBS = 64;
const HZ = 10;
const SECONDS = Number(process.env.UI_LOAD_SECONDS ?? 10);
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.map': 'application/json' };

let http: Server;
let wss: WebSocketServer;
let browser: Browser;
let port = 0;

const devices: Device[] = Array.from({ length: JOBS }, (_, i) => ({
  id: `LOAD${String(i).padStart(3, '0')}`,
  protocol: 'fastboot',
  transport: 'sim',
  name: 'Load sim',
  serial: `LOAD${String(i).padStart(3, '0')}`,
  state: 'busy',
  info: { product: 'loadsim' },
}));
const TOTAL = 2 * 1024 ** 3;
const jobs: Job[] = devices.map((d, i) => ({
  jobId: `job-${i}`,
  deviceId: d.id,
  state: 'running',
  stage: 'Writing system partition (1/1)',
  progress: 0,
  bytesTransferred: 0,
  totalBytes: TOTAL,
  transferSpeed: 0,
  estimatedTimeRemaining: 0,
  createdAt: Date.now(),
  startedAt: Date.now(),
  target: `system ← /images/system-${i % 4}.img`,
}));

beforeAll(async () => {
  ensureBuilt({ cli: false });
  const dist = join(root, 'dist/renderer');
  http = createServer((req, res) => {
    const path = normalize(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/+/, '') || 'index.html';
    try {
      const body = readFileSync(join(dist, path));
      res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  wss = new WebSocketServer({ server: http, path: '/flash-progress' });
  wss.on('connection', (ws) => {
    const send = (m: ServerMessage) => ws.send(JSON.stringify(m));
    send({ type: 'hello', protocol: 'flash-station/1', version: 'load', authenticated: true, timestamp: Date.now() });
    send({ type: 'snapshot', devices, jobs, timestamp: Date.now() });
    let tick = 0;
    // Each job's frames are spread over the 100 ms period, as 64 independent jobs would send them.
    const timer = setInterval(() => {
      tick++;
      for (let i = 0; i < JOBS; i++) {
        const bytes = Math.min(TOTAL, tick * (TOTAL / (SECONDS * HZ * 1.2)) + i * 1000);
        send({
          type: 'flash_progress', jobId: `job-${i}`, deviceId: devices[i]!.id, progress: (bytes / TOTAL) * 100, stage: 'Writing system partition (1/1)',
          bytesTransferred: bytes, totalBytes: TOTAL, transferSpeed: 40e6 + i * 1000, estimatedTimeRemaining: (TOTAL - bytes) / 40e6, timestamp: Date.now(),
        });
      }
    }, 1000 / HZ);
    ws.on('close', () => clearInterval(timer));
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  port = (http.address() as AddressInfo).port;
  browser = await openBrowser();
});

afterAll(async () => {
  await browser?.close();
  for (const c of wss?.clients ?? []) c.terminate();
  wss?.close();
  await new Promise<void>((r) => (http ? http.close(() => r()) : r()));
});

describe('UI under load', () => {
  it(`stays smooth with ${JOBS} jobs at ${HZ} updates/s`, async () => {
    const page = browser.page;
    await page.addInitScript(() => {
      const w = window as unknown as { __longTasks: number[]; __frames: number[]; __barUpdates: number };
      w.__longTasks = [];
      w.__frames = [];
      w.__barUpdates = 0;
      new MutationObserver((records) => {
        for (const r of records) if (r.attributeName === 'aria-valuenow') w.__barUpdates++;
      }).observe(document, { subtree: true, attributes: true, attributeFilter: ['aria-valuenow'] });
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) w.__longTasks.push(e.duration);
      }).observe({ type: 'longtask', buffered: true });
      const frame = (t: number) => {
        w.__frames.push(t);
        requestAnimationFrame(frame);
      };
      requestAnimationFrame(frame);
    });
    await page.goto(`http://127.0.0.1:${port}/?token=load`);
    await expect.poll(() => page.getByRole('progressbar').count(), { timeout: 15_000 }).toBe(JOBS);
    // Measure a steady window, after the first render.
    await page.evaluate(() => {
      const w = window as unknown as { __longTasks: number[]; __frames: number[]; __barUpdates: number };
      w.__longTasks = [];
      w.__frames = [];
      w.__barUpdates = 0;
    });
    const start = Date.now();
    const cdp = process.env.UI_LOAD_PROFILE ? await browser.context.newCDPSession(page) : null;
    if (cdp) {
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.start');
    }
    await page.waitForTimeout(SECONDS * 1000 * 0.8);
    if (cdp) {
      const { profile } = (await cdp.send('Profiler.stop')) as { profile: { nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[]; samples: number[]; timeDeltas: number[] } };
      const self = new Map<string, number>();
      const byId = new Map(profile.nodes.map((n) => [n.id, n]));
      profile.samples.forEach((id, i) => {
        const n = byId.get(id);
        const key = n ? `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber}` : '?';
        self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
      });
      console.log([...self].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, v]) => `${v.toFixed(0).padStart(6)} ms ${k}`).join('\n'));
    }
    const m = await page.evaluate(() => {
      const w = window as unknown as { __longTasks: number[]; __frames: number[]; __barUpdates: number };
      const bars = [...document.querySelectorAll('[role=progressbar]')].map((b) => Number(b.getAttribute('aria-valuenow')));
      return { longTasks: w.__longTasks, frames: w.__frames, bars, barUpdates: w.__barUpdates };
    });
    const seconds = (Date.now() - start) / 1000;
    const intervals = m.frames.slice(1).map((t, i) => t - (m.frames[i] ?? t));
    const sorted = [...intervals].sort((a, b) => a - b);
    const p = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
    const figures = {
      jobs: JOBS,
      updatesPerSecondPerJob: HZ,
      framesPerSecond: Math.round((m.frames.length / seconds) * 10) / 10,
      /** How often each progress bar changed on screen (whole percents; the source moves ~0.8 % per frame). */
      barUpdatesPerSecondPerJob: Math.round((m.barUpdates / JOBS / seconds) * 10) / 10,
      frameIntervalMs: { p50: Math.round(p(0.5) * 10) / 10, p95: Math.round(p(0.95) * 10) / 10, max: Math.round((sorted[sorted.length - 1] ?? 0) * 10) / 10 },
      longTasks: m.longTasks.length,
      longTaskMsTotal: Math.round(m.longTasks.reduce((a, b) => a + b, 0)),
      longTaskMsMax: Math.round(Math.max(0, ...m.longTasks)),
      longTaskShare: Math.round((m.longTasks.reduce((a, b) => a + b, 0) / (seconds * 1000)) * 1000) / 10,
      windowSeconds: Math.round(seconds * 10) / 10,
      browser: 'Debian chromium, headless, --disable-gpu',
      machine: `${cpus().length} cores, load average ${loadavg()[0]?.toFixed(1)} while measuring`,
    };
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(join(ARTIFACTS, 'ui-load.json'), JSON.stringify(figures, null, 2));
    console.log(`UI load figures: ${JSON.stringify(figures)}`);
    await screenshot(page, 'e2e-load-64-jobs');
    // Progress moved on every card while we watched.
    expect(Math.min(...m.bars)).toBeGreaterThan(0);
    expect(figures.barUpdatesPerSecondPerJob).toBeGreaterThan(1);
    // Smooth enough to use on a shared 2-core machine: frames keep coming, no task freezes the page for a second, and
    // the main thread is not saturated. (Figures on an idle machine are in docs/desktop.md.)
    expect(figures.framesPerSecond).toBeGreaterThan(10);
    expect(figures.longTaskMsMax).toBeLessThan(1000);
    expect(figures.longTaskShare).toBeLessThan(60);
  }, 120_000);
});
