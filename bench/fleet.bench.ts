// Fleet bench: 50 simulated stations (10 per process, 4 flashing sim devices each) on one mosquitto, one fleet view in
// its own process; measures event delay station → fleet (p50/p99), broker and fleet CPU, fleet memory, losses.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const QUICK = process.env.BENCH_QUICK === '1';
const PER_PROCESS = 10;
const PROCESSES = QUICK ? 1 : 5;
const DEVICES = 4;
const SECONDS = QUICK ? 6 : 20;
const self = fileURLToPath(import.meta.url);

function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function stationsRole(url: string, dir: string, first: number): Promise<void> {
  const { createStation } = await import('../src/core/station.js');
  const { createSimProvider } = await import('../src/sim/index.js');
  const { SIMULATORS } = await import('../src/families.js');
  const { StationLink } = await import('../src/fleet/station-link.js');
  const image = join(dir, `img-${first}.img`);
  writeFileSync(image, randomBytes(1 << 20));
  const emitted = new Map<string, number>();
  const links: Array<InstanceType<typeof StationLink>> = [];
  const stations = [];
  for (let i = 0; i < PER_PROCESS; i++) {
    const id = `bench-${first + i}`;
    const dataDir = join(dir, id);
    const sims = Array.from({ length: DEVICES }, (_, d) => `fastboot:${id}-d${d}?speed=512K&partitions=boot:4M`);
    const st = await createStation({ dataDir, providers: [createSimProvider(sims, { dataDir, factories: SIMULATORS })] });
    emitted.set(id, 0);
    st.subscribe(() => emitted.set(id, (emitted.get(id) ?? 0) + 1));
    links.push(new StationLink({ url, stationId: id, commands: false, dataDir }, { station: st, checkToken: () => false }));
    stations.push({ id, st });
  }
  await new Promise((r) => setTimeout(r, 1500));
  let running = true;
  const loops = stations.flatMap(({ id, st }) => st.devices().map(async (d) => {
    while (running) {
      const { jobId } = await st.startFlash({ deviceId: d.id, partition: 'boot', image });
      while (running && !['completed', 'failed', 'cancelled'].includes(st.job(jobId)?.state ?? 'completed')) await new Promise((r) => setTimeout(r, 100));
    }
    void id;
  }));
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  running = false;
  await Promise.all(loops);
  await new Promise((r) => setTimeout(r, 1500));
  const queued = links.reduce((n, l) => n + l.queued, 0);
  process.stdout.write(`${JSON.stringify({ emitted: Object.fromEntries(emitted), queued })}\n`);
  for (const l of links) await l.close(1000);
  for (const { st } of stations) await st.close();
  process.exit(0);
}

async function fleetRole(url: string): Promise<void> {
  const { startFleet } = await import('../src/fleet/fleet-view.js');
  const fleet = await startFleet({ url, port: 0, token: 'bench' });
  process.stdout.write('ready\n');
  process.stdin.on('data', () => {
    const events: Record<string, number> = {};
    for (const s of fleet.store.list()) events[s.stationId] = s.counters.events;
    process.stdout.write(`${JSON.stringify({ delay: fleet.store.delayPercentiles(), rss: process.memoryUsage().rss, events })}\n`);
  });
}

function line(child: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    let buf = '';
    const on = (d: Buffer): void => {
      buf += d.toString();
      const i = buf.indexOf('\n');
      if (i >= 0) {
        child.stdout?.off('data', on);
        resolve(buf.slice(0, i));
      }
    };
    child.stdout?.on('data', on);
  });
}

async function main(): Promise<void> {
  const [role, argUrl, dir, first] = process.argv.slice(2);
  if (role === 'stations' && argUrl && dir) return stationsRole(argUrl, dir, Number(first));
  if (role === 'fleet' && argUrl) return fleetRole(argUrl);
  const work = mkdtempSync(join(tmpdir(), 'fs-fleet-bench-'));
  const port = await new Promise<number>((r) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => r(typeof a === 'object' && a ? a.port : 0));
    });
  });
  writeFileSync(join(work, 'm.conf'), `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\n`);
  const broker = spawn('mosquitto', ['-c', join(work, 'm.conf')], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 500));
  const url = `mqtt://127.0.0.1:${port}`;
  const fleet = spawn(process.execPath, [self, 'fleet', url], { stdio: ['pipe', 'pipe', 'inherit'] });
  await line(fleet);
  const load0 = loadavg()[0] ?? 0;
  const b0 = cpuSeconds(broker.pid ?? 0);
  const f0 = cpuSeconds(fleet.pid ?? 0);
  const t0 = Date.now();
  const workers = Array.from({ length: PROCESSES }, (_, p) => {
    const d = join(work, `w${p}`);
    mkdirSync(d);
    return spawn(process.execPath, [self, 'stations', url, d, String(p * PER_PROCESS)], { stdio: ['ignore', 'pipe', 'inherit'] });
  });
  const reports = (await Promise.all(workers.map(line))).map((l) => JSON.parse(l) as { emitted: Record<string, number>; queued: number });
  const wall = (Date.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 1000));
  fleet.stdin?.write('report\n');
  const seen = JSON.parse(await line(fleet)) as { delay: { count: number; p50: number; p99: number; max: number }; rss: number; events: Record<string, number> };
  const brokerCpu = (cpuSeconds(broker.pid ?? 0) - b0) / wall;
  const fleetCpu = (cpuSeconds(fleet.pid ?? 0) - f0) / wall;
  let sent = 0;
  let lost = 0;
  for (const r of reports) for (const [id, n] of Object.entries(r.emitted)) {
    sent += n;
    lost += Math.max(0, n - (seen.events[id] ?? 0));
  }
  const result = {
    stations: PROCESSES * PER_PROCESS, devices: PROCESSES * PER_PROCESS * DEVICES, seconds: wall, events: sent, eventsPerSecond: sent / wall,
    delayP50Ms: seen.delay.p50, delayP99Ms: seen.delay.p99, delayMaxMs: seen.delay.max, lost,
    brokerCpuCores: brokerCpu, fleetCpuCores: fleetCpu, fleetRssMiB: seen.rss / 2 ** 20, load1Start: load0, load1End: loadavg()[0] ?? 0,
  };
  console.table([result]);
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/fleet.json', `${JSON.stringify(result, null, 2)}\n`);
  // The station processes close their links and stations while the broker is still up, and are gone before their
  // folder is: killed after 30 s (they used to outlive the bench, their sim files then closed by the GC).
  await Promise.all(workers.map((w) => new Promise<void>((resolve) => {
    if (w.exitCode !== null || w.signalCode !== null) return resolve();
    const t = setTimeout(() => w.kill('SIGKILL'), 30_000);
    w.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
  })));
  fleet.kill();
  broker.kill();
  rmSync(work, { recursive: true, force: true });
}

await main();
