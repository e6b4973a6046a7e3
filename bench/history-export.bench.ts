// Issue 15 §9: what 20 parallel `GET /api/history.csv` over 10 000 history rows do to a client that watches the
// station. A station (`flash-station serve`, its own process) with a seeded history; one WebSocket client pings it
// every 20 ms: ping → pong latency p50/p99/max idle, then while 20 exports run at once; beside it how many exports were
// answered 200 and 429 and how long they took. The red team measured a watcher's latency at 739 ms under this load.
// The exports are 20 `curl` processes. BENCH_QUICK=1: 2 000 rows.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import WebSocket from 'ws';
import { History } from '../src/core/history.js';
import { load } from './bench-kit.js';

const quick = process.env.BENCH_QUICK === '1';
const ROWS = quick ? 2000 : 10_000;
const EXPORTS = 20;
const TOKEN = 'bench-token-0123456789abcdef0123';
const root = resolve(new URL('.', import.meta.url).pathname, '..', '..', '..');

function seed(dataDir: string): void {
  const h = new History(dataDir);
  const t0 = Date.now() - ROWS * 60_000;
  for (let i = 0; i < ROWS; i++) {
    const at = t0 + i * 60_000;
    h.insert({
      job_id: `job_${i}`, device_id: `SERIAL${i % 16}`, device_name: 'Pixel', protocol: 'fastboot', transport: 'usb',
      port: `1-${i % 16}`, state: i % 10 === 0 ? 'failed' : 'completed', stage: 'Writing system partition',
      target: 'system', image_path: `/srv/images/build-${i % 50}/system.img`, image_size: 1 << 30,
      total_bytes: 256 << 20, bytes_transferred: 256 << 20, created_at: at, started_at: at + 10, ended_at: at + 30_000,
      result: i % 10 === 0 ? 'error' : 'ok', error_code: i % 10 === 0 ? 'device_error' : null,
      error: i % 10 === 0 ? 'FAILED (remote: write failed)' : null,
    });
  }
  h.close();
}

async function startServe(dataDir: string): Promise<{ proc: ChildProcess; url: string; http: string }> {
  const proc = spawn(process.execPath, [...(process.env.EXPORT_BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.EXPORT_BENCH_PROF] : []), join(root, 'bin/flash-station.cjs'), 'serve', '--port', '0', '--no-usb', '--no-serial', '--no-block', '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, FLASH_STATION_TOKEN: TOKEN },
  });
  const url = await new Promise<string>((res, rej) => {
    let out = '';
    proc.stdout?.on('data', (d: Buffer) => {
      out += String(d);
      const m = /listening (ws:\/\/\S+)/.exec(out);
      if (m?.[1]) res(m[1]);
    });
    proc.on('exit', (c) => rej(new Error(`serve exited ${c}: ${out}`)));
  });
  return { proc, url, http: url.replace('ws://', 'http://').replace(/\/flash-progress$/, '') };
}

/** Ping every 20 ms for `ms`; the round trips in ms. */
async function pings(ws: WebSocket, ms: number): Promise<number[]> {
  const rtts: number[] = [];
  // A pong carries the station's clock, not the ping's: the station answers in order, so match them first in first out.
  const sent: bigint[] = [];
  const onMessage = (data: WebSocket.RawData): void => {
    const m = JSON.parse((data as Buffer).toString('utf8')) as { type: string };
    const at = m.type === 'pong' ? sent.shift() : undefined;
    if (at !== undefined) rtts.push(Number(process.hrtime.bigint() - at) / 1e6);
  };
  ws.on('message', onMessage);
  const end = Date.now() + ms;
  while (Date.now() < end) {
    sent.push(process.hrtime.bigint());
    ws.send(JSON.stringify({ type: 'ping', timestamp: Date.now() }));
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 200));
  ws.off('message', onMessage);
  return rtts;
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0) : Number.NaN;
};
const row = (label: string, xs: number[]): string =>
  `${label.padEnd(28)} pings ${String(xs.length).padStart(4)}  p50 ${pct(xs, 50).toFixed(1)} ms  p99 ${pct(xs, 99).toFixed(1)} ms  max ${Math.max(...xs).toFixed(1)} ms`;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fs-export-bench-'));
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  seed(dataDir);
  const station = await startServe(dataDir);
  try {
    const ws = new WebSocket(station.url);
    await new Promise((r, j) => ws.once('open', r).once('error', j));
    const idle = await pings(ws, 3000);
    const statuses: number[] = [];
    const bytes: number[] = [];
    const t0 = performance.now();
    const loadBefore = load();
    // The exports run in other processes (curl), so the watcher's latency is the station's, not this process's.
    const exporting = Promise.all(Array.from({ length: EXPORTS }, () => new Promise<void>((res) => {
      const c = spawn('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{size_download}', '-H', `Authorization: Bearer ${TOKEN}`,
        `${station.http}/api/history.csv`], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      c.stdout.on('data', (d: Buffer) => (out += String(d)));
      c.on('close', () => { // (after its output is read; 'exit' may come first)
        const [status = '0', size = '0'] = out.trim().split(' ');
        statuses.push(Number(status));
        bytes.push(Number(size));
        res();
      });
    })));
    let done = false;
    void exporting.then(() => (done = true));
    const busy: number[] = [];
    while (!done) busy.push(...(await pings(ws, 500)));
    await exporting;
    const exportMs = performance.now() - t0;
    ws.close();
    const ok = statuses.filter((s) => s === 200).length;
    console.log(`\n${EXPORTS} parallel /api/history.csv over ${ROWS} rows; a watcher pings every 20 ms (load ${loadBefore})`);
    console.log(row('idle', idle));
    console.log(row(`during ${EXPORTS} exports`, busy));
    console.log(`exports: ${ok} × 200 (${((bytes.find((b, i) => statuses[i] === 200) ?? 0) / 1e6).toFixed(1)} MB each), ` +
      `${statuses.filter((s) => s === 429).length} × 429, other ${JSON.stringify(statuses.filter((s) => s !== 200 && s !== 429))}; all done in ${(exportMs / 1000).toFixed(2)} s`);
    const out = join(root, 'bench', 'results');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'history-export.json'), `${JSON.stringify({
      date: new Date().toISOString(), rows: ROWS, exports: EXPORTS, load: loadBefore,
      idle: { p50: pct(idle, 50), p99: pct(idle, 99), max: Math.max(...idle) },
      during: { p50: pct(busy, 50), p99: pct(busy, 99), max: Math.max(...busy) },
      statuses, exportMs,
    }, null, 2)}\n`);
  } finally {
    station.proc.kill('SIGTERM');
    await new Promise((r) => station.proc.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
