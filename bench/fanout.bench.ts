// Fan-out: 16 jobs × 10 progress frames/s published by an outside agent to 200 clients, through the real station and
// server (validation, auth, backpressure) vs a naive broadcast loop like the guide's Node server, in the same run.
// Then one client stops reading (tiny receive buffer) while 16 jobs run: station RSS and the others' latency, against a
// run of the same length with no client stalled (latency in the load process grows with the run's length by itself).
// BENCH_QUICK=1 shortens the runs. Writes bench/results/fanout.json.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer, WebSocket } from 'ws';
import { createStation } from '../src/core/station.js';
import { startServer } from '../src/server/server.js';
import { LOAD_SCRIPT, SLOW_CLIENT_SCRIPT } from './fanout-load.js';

const quick = process.env.BENCH_QUICK === '1';
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 200);
const JOBS = 16;
const HZ = 10;
const SECONDS = Number(process.env.BENCH_SECONDS ?? (quick ? 5 : 20));
const STALL_SECONDS = Number(process.env.BENCH_STALL_SECONDS ?? (quick ? 8 : 60));

/** Server-side time to hand one event to every client (ms), collected per run. */
let fanoutCost: number[] = [];

interface LoadResult { expected: number; received: number; drainMs: number; completed: number; p50: number; p99: number; max: number; clients: number; loadCpuPercent: number }
interface Run extends LoadResult { name: string; loadAvg: number; cpuPercent: number; peakRssMiB: number; baseRssMiB: number; coalesced?: number; fanoutP50Us: number; fanoutP99Us: number }

function runChild(cmd: string, args: string[], onLine?: (line: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (onLine) for (const l of d.toString().split('\n')) if (l.trim()) onLine(l.trim());
    });
    // 'close', not 'exit': stdout may still hold the result line when the process has exited.
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}`))));
  });
}

async function measure(name: string, url: string, token: string, seconds: number, during?: () => Promise<void>): Promise<Run> {
  global.gc?.();
  fanoutCost = [];
  const baseRss = process.memoryUsage().rss;
  let peakRss = baseRss;
  const sampler = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage().rss); }, 100);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const load = runChild(process.execPath, ['--input-type=module', '-e', LOAD_SCRIPT, url, token, String(CLIENTS), String(JOBS), String(HZ), String(seconds)]);
  const extra = during?.();
  const out = await load;
  await extra;
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  const result = JSON.parse(out.trim().split('\n').at(-1)!) as LoadResult;
  fanoutCost.sort((a, b) => a - b);
  const q = (p: number): number => (fanoutCost.length ? fanoutCost[Math.min(fanoutCost.length - 1, Math.floor(p * fanoutCost.length))]! * 1000 : Number.NaN);
  return { name, loadAvg: loadavg()[0] ?? 0, ...result, fanoutP50Us: q(0.5), fanoutP99Us: q(0.99), cpuPercent: ((cpu.user + cpu.system) / 1000 / wall) * 100, peakRssMiB: peakRss / 2 ** 20, baseRssMiB: baseRss / 2 ** 20 };
}

/** The guide's Node server: a Set of clients and a broadcast loop, relaying what the agent publishes. */
async function startNaive(): Promise<{ url: string; close(): Promise<void> }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', path: '/flash-progress' });
  await new Promise((r) => wss.once('listening', r));
  const clients = new Set<WebSocket>();
  const broadcast = (message: Record<string, unknown>): void => {
    const t0 = performance.now();
    const data = JSON.stringify({ ...message, timestamp: Date.now() });
    clients.forEach((client) => { if (client.readyState === WebSocket.OPEN) client.send(data); });
    fanoutCost.push(performance.now() - t0);
  };
  wss.on('connection', (ws) => {
    clients.add(ws);
    ws.on('message', (data) => {
      try {
        const text = Buffer.isBuffer(data) ? data.toString('utf8') : (Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)).toString('utf8');
        const message = JSON.parse(text) as Record<string, unknown>;
        if (message.type === 'ping') ws.send(JSON.stringify({ type: 'pong', timestamp: Date.now() }));
        else if (typeof message.type === 'string' && message.type.startsWith('flash_')) broadcast(message);
      } catch { /* the guide logs and carries on */ }
    });
    ws.on('close', () => clients.delete(ws));
  });
  const port = (wss.address() as { port: number }).port;
  return { url: `ws://127.0.0.1:${port}/flash-progress`, close: () => new Promise((r) => { for (const c of clients) c.terminate(); wss.close(() => r()); }) };
}

async function stalledClient(port: number, seconds: number): Promise<void> {
  await runChild('/usr/bin/python3', ['-c', SLOW_CLIENT_SCRIPT, String(port), String(seconds)]);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fs-bench-fanout-'));
  const token = 'bench-token';
  const station = await createStation({ dataDir: dir, providers: [] });
  const server = await startServer(station, { host: '127.0.0.1', port: 0, dataDir: dir, token });
  const naive = await startNaive();
  // Time the hub's fan-out per event, comparable with the naive loop's: the hub hands the events of one turn of the
  // event loop to every client in one batch, so a batch's time is shared by its events.
  const hub = server.hub as unknown as { flushBatch: () => void; batch: unknown[] };
  const flush = hub.flushBatch;
  hub.flushBatch = () => {
    const events = hub.batch.length;
    const t0 = performance.now();
    flush();
    const each = (performance.now() - t0) / Math.max(1, events);
    for (let i = 0; i < events; i++) fanoutCost.push(each);
  };
  const runs: Run[] = [];
  try {
    runs.push(await measure('naive broadcast (guide)', naive.url, token, SECONDS));
    const c0 = server.hub.counters.framesCoalesced;
    runs.push({ ...(await measure('flash-station', server.url, token, SECONDS)), coalesced: server.hub.counters.framesCoalesced - c0 });
    const control = await measure('flash-station, same length, none stalled', server.url, token, STALL_SECONDS);
    runs.push(control);
    const before = { ...server.hub.counters };
    const stalled = await measure('flash-station, 1 client stalled', server.url, token, STALL_SECONDS, () => stalledClient(server.port, STALL_SECONDS));
    const counters = server.hub.counters;
    stalled.coalesced = counters.framesCoalesced - before.framesCoalesced;
    runs.push(stalled);
    const naiveStalled = await measure('naive, 1 client stalled', naive.url, token, STALL_SECONDS, () => stalledClient(Number(new URL(naive.url).port), STALL_SECONDS));
    runs.push(naiveStalled);

    const rows = [['run', 'clients', 'progress frames delivered', 'coalesced', 'fan-out µs p50/p99', 'latency p50 ms', 'p99 ms', 'max ms', 'server CPU %', 'load-gen CPU %', 'RSS MiB (base→peak)', 'load avg']];
    for (const r of runs) {
      rows.push([r.name, String(r.clients), `${r.received}/${r.expected}`, String(r.coalesced ?? '-'), `${r.fanoutP50Us.toFixed(0)}/${r.fanoutP99Us.toFixed(0)}`, r.p50.toFixed(2), r.p99.toFixed(2), r.max.toFixed(1), r.cpuPercent.toFixed(1), r.loadCpuPercent.toFixed(0),
        `${r.baseRssMiB.toFixed(0)}→${r.peakRssMiB.toFixed(0)}`, r.loadAvg.toFixed(1)]);
    }
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
    console.log(rows.map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ')).join('\n'));
    const ours = runs[1]!;
    const base = runs[0]!;
    const ratios = {
      p99VsNaive: ours.p99 / base.p99,
      fanoutP50VsNaive: ours.fanoutP50Us / base.fanoutP50Us,
      cpuVsNaive: ours.cpuPercent / base.cpuPercent,
      deliveredVsNaive: ours.received / Math.max(1, base.received),
      stalledP99VsUnstalled: stalled.p99 / control.p99,
    };
    const slow = {
      coalesced: counters.framesCoalesced - before.framesCoalesced,
      slowDisconnected: counters.slowClientsDisconnected - before.slowClientsDisconnected,
      rssGrowthMiB: stalled.peakRssMiB - stalled.baseRssMiB,
      naiveRssGrowthMiB: naiveStalled.peakRssMiB - naiveStalled.baseRssMiB,
    };
    console.log(`\nratios vs naive: fan-out cost ×${ratios.fanoutP50VsNaive.toFixed(2)}, latency p99 ×${ratios.p99VsNaive.toFixed(2)}, CPU ×${ratios.cpuVsNaive.toFixed(2)}, delivered ×${ratios.deliveredVsNaive.toFixed(3)}`);
    console.log(`stalled client (${STALL_SECONDS}s): others' p99 ×${ratios.stalledP99VsUnstalled.toFixed(2)} of the same-length run with none stalled; ` +
      `progress frames coalesced ${slow.coalesced}; disconnected ${slow.slowDisconnected}; station RSS +${slow.rssGrowthMiB.toFixed(1)} MiB ` +
      `(naive +${slow.naiveRssGrowthMiB.toFixed(1)} MiB)`);
    mkdirSync('bench/results', { recursive: true });
    writeFileSync('bench/results/fanout.json', `${JSON.stringify({ quick, clients: CLIENTS, jobs: JOBS, hz: HZ, seconds: SECONDS, stallSeconds: STALL_SECONDS, machine: { cpus: (await import('node:os')).cpus().length }, runs, ratios, slow }, null, 2)}\n`);
  } finally {
    await naive.close();
    await server.close();
    await station.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
