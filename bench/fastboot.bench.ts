// Fastboot host benchmarks: the station vs AOSP `fastboot` over TCP loopback into two identical simulators (the job's
// own time and the CLI's whole-process wall time against AOSP's, alternated, with os.loadavg()), the in-process USB face with a USB 2.0 link model (transfer size × transfers in flight), and
// 8 simulated devices flashed in parallel. BENCH_QUICK=1 shrinks everything to a few seconds.
import { build } from 'esbuild';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { JobContext } from '../src/contracts/family.js';
import { fastbootFamily } from '../src/drivers/fastboot/index.js';
import { FASTBOOT_USB } from '../src/transports/fastboot-usb-interface.js';
import { openImage } from '../src/images/index.js';
import { FastbootSimDevice, SimUsbDevice, parseSimSpec } from '../src/sim/fastboot/index.js';
import { createWebUsbLink } from '../src/transports/usb.js';
import { load, silentContext } from './bench-kit.js';
import { buildCli } from '../scripts/cli-build.mjs';

const QUICK = process.env.BENCH_QUICK === '1';
const MiB = 1024 * 1024;
const root = resolve(process.cwd());
const work = mkdtempSync(join(tmpdir(), 'fastboot-bench-'));
/**
 * Partition stores of the in-process simulators live in memory (tmpfs) when there is one: the simulator syncs each
 * flash to disk, and on a shared build machine that would measure the disk rather than the host.
 */
const storeRoot = existsSync('/dev/shm') ? mkdtempSync('/dev/shm/fastboot-bench-') : work;
const results: Record<string, unknown> = { quick: QUICK, machine: { cpus: cpus().length, model: cpus()[0]?.model } };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

/** A raw image of `size` bytes holding `data` bytes of random data in evenly spread 4 MiB runs; the rest are holes. */
function makeImage(path: string, size: number, data: number): void {
  const fd = openSync(path, 'w');
  const run = Math.min(4 * MiB, data);
  const runs = Math.max(1, Math.round(data / run));
  const stride = Math.floor(size / runs);
  const buf = Buffer.alloc(run);
  let x = 0x9e3779b9;
  for (let r = 0; r < runs; r++) {
    for (let i = 0; i < run; i += 4) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      buf.writeUInt32LE(x >>> 0, i);
    }
    writeSync(fd, buf, 0, run, r * stride);
  }
  closeSync(fd);
  spawnSync('truncate', ['-s', String(size), path]);
}

async function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => res(port));
    });
  });
}

async function waitPort(port: number, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((res) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => {
        c.destroy();
        res(true);
      });
      c.once('error', () => res(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`port ${port} did not open`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let timeSeq = 0;
/** Runs a process; wall time from here, CPU time (user + system) from /usr/bin/time. */
/**
 * BENCH_PIN=1 (default on 2+ cores): the simulators run on core 1 and the hosts (AOSP, the station, its CLI) on core 0,
 * as a real device has its own processor. Unpinned, a host's work and the simulator share both cores with whatever
 * else the VM does, and the device's speed for identical bytes swung 0.8–1.9 s within a minute.
 */
const PIN = (process.env.BENCH_PIN ?? (cpus().length >= 2 ? '1' : '0')) === '1' && spawnSync('taskset', ['-c', '0', 'true']).status === 0;
function pinned(core: 0 | 1, cmd: string, args: string[]): [string, string[]] {
  return PIN ? ['taskset', ['-c', String(core), cmd, ...args]] : [cmd, args];
}

function timed(cmd: string, args: string[]): Promise<{ ms: number; cpuMs: number; code: number; out: string }> {
  const cpuFile = join(work, `time-${timeSeq++}.txt`);
  return new Promise((res) => {
    const t0 = performance.now();
    const p = spawn('/usr/bin/time', ['-q', '-f', '%U %S', '-o', cpuFile, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', (code) => {
      const ms = performance.now() - t0;
      let cpuMs = 0;
      try {
        const [u = '0', sy = '0'] = readFileSync(cpuFile, 'utf8').trim().split(/\s+/).slice(-2);
        cpuMs = (Number(u) + Number(sy)) * 1000;
      } catch {
        cpuMs = 0;
      }
      res({ ms, cpuMs, code: code ?? 1, out });
    });
  });
}

function waitLine(p: ChildProcess, re: RegExp, ms = 20_000): Promise<string> {
  return new Promise((res, rej) => {
    let buf = '';
    const t = setTimeout(() => rej(new Error(`no line matching ${re} within ${ms} ms: ${buf}`)), ms);
    const on = (d: Buffer): void => {
      buf += d.toString();
      const m = re.exec(buf);
      if (m) {
        clearTimeout(t);
        res(m[0]);
      }
    };
    p.stdout?.on('data', on);
    p.stderr?.on('data', on);
  });
}

function stop(p: ChildProcess): Promise<void> {
  return new Promise((res) => {
    if (p.exitCode !== null) return res();
    p.once('exit', () => res());
    p.kill('SIGTERM');
    setTimeout(() => p.kill('SIGKILL'), 5000).unref();
  });
}

// ------------------------------------------------------------------ 1. our host vs AOSP fastboot over TCP

/** Goals of issue 14: the job's own time ≤ 1.0× AOSP's wall time, the CLI's whole-process wall time ≤ 1.15×. */
const JOB_GOAL = 1.0;
const CLI_GOAL = 1.15;

/**
 * The same image into two identical simulators over TCP loopback: one for AOSP `fastboot -s tcp:…`, one held by a
 * running station (`serve --connect`, started and attached before the timed part). Alternated, median of the rounds.
 * Measures AOSP's whole-process wall time, the station job's own time (`flash_started` → `flash_completed` from the
 * CLI's `--json` events) and the `flash-station flash` process's wall time. BENCH_DIRECT=1 adds our host without the
 * station (`bench/fastboot-host-entry.ts`) into the station's simulator.
 */
async function versusAosp(): Promise<void> {
  const imageSize = QUICK ? 64 * MiB : 1024 * MiB;
  const dataSize = QUICK ? 16 * MiB : 256 * MiB;
  const maxDownload = QUICK ? '16M' : '256M';
  const rounds = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 1 : 3));
  const withDirect = process.env.BENCH_DIRECT === '1';
  const warmup = Number(process.env.BENCH_WARMUP ?? 1);
  const images = (process.env.BENCH_IMAGES ?? 'raw,sparse').split(',');
  const raw = join(work, 'bench.img');
  const sparse = join(work, 'bench.simg');
  makeImage(raw, imageSize, dataSize);
  spawnSync('img2simg', [raw, sparse]);
  spawnSync('sync');

  const buildDir = join(work, 'build');
  mkdirSync(buildDir, { recursive: true });
  const define = { __FLASH_STATION_VERSION__: '"bench"' };
  // The CLI as `npm run build` bundles it (scripts/cli-build.mjs), from the current sources, with the package's launcher.
  await buildCli({ root, outdir: join(buildDir, 'dist'), define, sourcemap: false, logLevel: 'error' });
  await build({ entryPoints: [join(root, 'bench/fastboot-host-entry.ts')], outfile: join(buildDir, 'entry.mjs'), bundle: true, platform: 'node', format: 'esm', packages: 'external', define, logLevel: 'error', absWorkingDir: root });
  mkdirSync(join(buildDir, 'bin'), { recursive: true });
  const cliRun = join(buildDir, 'bin', 'flash-station.cjs');
  copyFileSync(join(root, 'bin', 'flash-station.cjs'), cliRun);
  // The ES module entries are .js files, as in the package, whose package.json says so.
  writeFileSync(join(buildDir, 'package.json'), '{ "type": "module" }\n');
  // Resolve bare package imports from the project's node_modules.
  spawnSync('ln', ['-sfn', join(root, 'node_modules'), join(work, 'node_modules')]);

  // Two identical simulators, each with its own partition store: AOSP's and the station's.
  const startSim = async (name: string): Promise<{ sim: ChildProcess; target: string }> => {
    const port = await freePort();
    const sim = spawn(...pinned(1, process.execPath, [cliRun, 'sim', 'fastboot', '--tcp', String(port), '--serial', name, '--partition', `system=${imageSize / MiB + 64}M`, '--max-download', maxDownload, '--store', join(storeRoot, `store-${name}`)]), { stdio: 'ignore' });
    await waitPort(port);
    return { sim, target: `tcp:127.0.0.1:${port}` };
  };
  const sims = [await startSim('BENCHA'), await startSim('BENCHS')] as const;
  let [forAosp, forStation] = sims;
  // BENCH_FRESH_STATION=1: a station started for each flash instead (the method before 2 Dec).
  let station = process.env.BENCH_FRESH_STATION === '1' ? undefined : await startStation(cliRun, forStation.target);
  /**
   * The two simulators trade hosts every two rounds (BENCH_SWAP=0: never). Each simulator process has a speed of its own
   * on this VM — one was 1.5× the other for the same bytes from the same host for a whole run — so a host that kept
   * one simulator measured that simulator. After a trade the running station is restarted on its new simulator and
   * flashes once untimed, so that it is as warm as before.
   */
  const swapping = process.env.BENCH_SWAP !== '0';
  const assign = async (r: number, file: string): Promise<void> => {
    const want = swapping && Math.floor((r + 8) / 2) % 2 === 1 ? [sims[1], sims[0]] : [sims[0], sims[1]];
    if (want[1] === forStation) return;
    [forAosp, forStation] = want as [typeof forAosp, typeof forStation];
    if (!station) return;
    await stop(station.proc);
    rmSync(station.dataDir, { recursive: true, force: true });
    station = await startStation(cliRun, forStation.target);
    await stationFlash(cliRun, station, forStation.target, file);
  };
  try {
    const rows: Array<{ failures: string[] } & Record<string, unknown>> = [];
    for (const [label, file] of [['raw', raw], ['sparse', sparse]] as const) {
      if (!images.includes(label)) continue;
      const times: Record<string, number[]> = { aosp: [], direct: [], job: [], cli: [] };
      // The device's CPU per flash (the simulator is one thread, busy nearly all of a flash): the floor under both hosts.
      const device: Record<string, number[]> = { aosp: [], station: [] };
      const simCpu = (sim: ChildProcess): number => (sim.pid === undefined ? 0 : cpuTicks(sim.pid) * 10);
      const cpu: Record<string, number[]> = { aosp: [], direct: [], cli: [] };
      const loads: string[] = [];
      const failures: string[] = [];
      // Rounds before 0 warm up and are not counted (page cache, both simulators' first flash, the station's first job).
      for (let r = -warmup; r < rounds; r++) {
        // Alternate who goes first each round so page cache and machine load favour neither.
        const order = r % 2 === 0 ? ['aosp', 'station', 'direct'] : ['direct', 'station', 'aosp'];
        await assign(r, file);
        const counted = r >= 0;
        if (counted) loads.push(load());
        for (const who of order) {
          if (who === 'aosp') {
            const d0 = simCpu(forAosp.sim);
            const t = await timed(...pinned(0, 'fastboot', ['-s', forAosp.target, 'flash', 'system', file]));
            if (t.code !== 0) failures.push(`aosp: ${t.out.slice(-300)}`);
            else if (counted) {
              times.aosp?.push(t.ms);
              cpu.aosp?.push(t.cpuMs);
              device.aosp?.push(simCpu(forAosp.sim) - d0);
            }
          } else if (who === 'direct') {
            if (!withDirect) continue;
            const [host = '', port = ''] = forStation.target.slice(4).split(':');
            const t = await timed(process.execPath, [join(buildDir, 'entry.mjs'), 'tcp', host, port, 'system', file]);
            if (t.code !== 0) failures.push(`direct: ${t.out.slice(-300)}`);
            else if (counted) {
              times.direct?.push(t.ms);
              cpu.direct?.push(t.cpuMs);
            }
          } else {
            const d0 = simCpu(forStation.sim);
            const t = await stationFlash(cliRun, station, forStation.target, file);
            if (t.code !== 0 || t.jobMs === undefined) failures.push(`station: ${t.out.slice(-300)}`);
            else if (counted) {
              times.cli?.push(t.ms);
              times.job?.push(t.jobMs);
              cpu.cli?.push(t.cpuMs);
              device.station?.push(simCpu(forStation.sim) - d0);
            }
          }
        }
      }
      loads.push(load());
      const aosp = median(times.aosp ?? []);
      const ratio = (xs: number[] | undefined): number | null => (aosp && xs?.length ? +(median(xs) / aosp).toFixed(2) : null);
      // Each round's own ratio (its two runs are seconds apart), then the median: steadier where the VM's speed drifts.
      const paired = (xs: number[] | undefined): number | null => {
        const a = times.aosp ?? [];
        const rs = (xs ?? []).flatMap((x, i) => (a[i] ? [x / a[i]] : []));
        return rs.length ? +median(rs).toFixed(2) : null;
      };
      const row = {
        image: `${label} ${imageSize / MiB} MiB (${dataSize / MiB} MiB data)`,
        aospMs: Math.round(aosp),
        jobMs: Math.round(median(times.job ?? [])),
        cliMs: Math.round(median(times.cli ?? [])),
        jobRatio: ratio(times.job),
        cliRatio: ratio(times.cli),
        jobRatioPaired: paired(times.job),
        cliRatioPaired: paired(times.cli),
        deviceCpuMs: { aosp: Math.round(median(device.aosp ?? [])), station: Math.round(median(device.station ?? [])) },
        ...(withDirect ? { directMs: Math.round(median(times.direct ?? [])), directRatio: ratio(times.direct) } : {}),
        aospCpuMs: Math.round(median(cpu.aosp ?? [])),
        cliCpuMs: Math.round(median(cpu.cli ?? [])),
        all: Object.fromEntries(Object.entries(times).filter(([, v]) => v.length).map(([k, v]) => [k, v.map((x) => Math.round(x))])),
        loadavg: loads,
        runs: rounds,
        failures,
      };
      rows.push(row);
    }
    const method = `${station ? 'one running station' : 'a station started per flash'}${PIN ? '; simulators on core 1, hosts on core 0' : ''}` +
      `${swapping ? '; the simulators trade hosts every two rounds' : ''}`;
    console.log(`\nStation vs AOSP fastboot, TCP loopback, two identical simulators, ${method}, median of ${rounds} alternated rounds`);
    console.log(`goals: job (flash_started → flash_completed) ≤ ${JOB_GOAL}× AOSP's wall time, CLI process ≤ ${CLI_GOAL}×`);
    const shown = ['image', 'aospMs', 'jobMs', 'cliMs', 'jobRatio', 'cliRatio', 'jobRatioPaired', 'cliRatioPaired', 'directMs', 'directRatio', 'aospCpuMs', 'cliCpuMs', 'runs'];
    console.table(rows.map((r) => ({ ...Object.fromEntries(shown.filter((k) => k in r).map((k) => [k, r[k]])), failures: r.failures.length })));
    for (const r of rows) {
      const met = (x: unknown, goal: number): string => (typeof x === 'number' ? (x <= goal ? 'met' : 'NOT met') : 'n/a');
      console.log(`  ${String(r.image)}: job ${String(r.jobRatio)}× (${met(r.jobRatio, JOB_GOAL)}), CLI ${String(r.cliRatio)}× (${met(r.cliRatio, CLI_GOAL)}); ` +
        `per-round medians: job ${String(r.jobRatioPaired)}×, CLI ${String(r.cliRatioPaired)}×; device CPU per flash (ms, median) ${JSON.stringify(r.deviceCpuMs)}; ` +
        `runs (ms) ${JSON.stringify(r.all)}; os.loadavg() per round ${(r.loadavg as string[]).join(' | ')}`);
      for (const f of r.failures) console.log('  failure:', f.replace(/\s+/g, ' '));
    }
    results.versusAosp = { goals: { job: JOB_GOAL, cli: CLI_GOAL }, method, rows };
  } finally {
    if (station) {
      await stop(station.proc);
      rmSync(station.dataDir, { recursive: true, force: true });
    }
    for (const sim of sims) await stop(sim.sim);
  }
}

/** The job's own time from the CLI's `--json` events: `flash_started` → `flash_completed`. */
function jobTime(out: string): number | undefined {
  let started: number | undefined;
  let completed: number | undefined;
  for (const line of out.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const m = JSON.parse(line) as { type?: string; timestamp?: number };
      if (m.type === 'flash_started') started = m.timestamp;
      if (m.type === 'flash_completed') completed = m.timestamp;
    } catch {
      // not an event line
    }
  }
  return started !== undefined && completed !== undefined ? completed - started : undefined;
}

interface RunningStation {
  proc: ChildProcess;
  url: string;
  dataDir: string;
}

/**
 * `flash-station serve --connect` for the station's simulator (not timed): it attaches the device and holds its
 * connection for all the rounds, like a station that is running when the operator flashes.
 */
async function startStation(cliRun: string, target: string): Promise<RunningStation> {
  const dataDir = mkdtempSync(join(work, 'station-'));
  const proc = spawn(...pinned(0, process.execPath, [cliRun, 'serve', '--port', '0', '--connect', target, '--no-usb', '--no-serial', '--no-block', '--data-dir', dataDir]), {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FLASH_STATION_TOKEN: 'bench-token-0123456789abcdef0123' },
  });
  const line = await waitLine(proc, /listening (ws:\/\/\S+)/);
  const url = line.replace('listening ', '');
  // Wait until the station has attached the device.
  const end = Date.now() + 15_000;
  for (;;) {
    const d = spawnSync(process.execPath, [cliRun, 'devices', '--json', '--url', url], { encoding: 'utf8' });
    if (d.stdout.includes(target)) break;
    if (Date.now() > end) throw new Error(`device never attached: ${d.stdout} ${d.stderr}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { proc, url, dataDir };
}

/** CPU time (user + system, clock ticks) of a process so far (Linux). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

/**
 * Waits until the station is idle again: after a job it still computes the image's record hash (a worker at nice 10
 * reading the file), which must not overlap the next timed run of either host.
 */
async function settle(pid: number, maxMs = 30_000): Promise<void> {
  const end = Date.now() + maxMs;
  let before = cpuTicks(pid);
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    const now = cpuTicks(pid);
    if (now - before <= 2 || Date.now() > end) return;
    before = now;
  }
}

/** The timed `flash-station flash --json` process against the running station, then wait for the station to settle. */
async function stationFlash(cliRun: string, station: RunningStation | undefined, target: string, file: string): Promise<{ ms: number; cpuMs: number; jobMs?: number; code: number; out: string }> {
  if (!station) {
    // The method before 2 Dec: a station started for this one flash (cold: its first job, its own start-up beside it).
    const fresh = await startStation(cliRun, target);
    try {
      const t = await timed(...pinned(0, process.execPath, [cliRun, 'flash', '--json', '--url', fresh.url, '--token', 'bench-token-0123456789abcdef0123', '--device', target, 'system', file]));
      return { ...t, jobMs: jobTime(t.out) };
    } finally {
      await stop(fresh.proc);
      rmSync(fresh.dataDir, { recursive: true, force: true });
    }
  }
  const t = await timed(...pinned(0, process.execPath, [cliRun, 'flash', '--json', '--url', station.url, '--token', 'bench-token-0123456789abcdef0123', '--device', target, 'system', file]));
  if (station.proc.pid !== undefined) await settle(station.proc.pid);
  return { ...t, jobMs: jobTime(t.out) };
}

// ------------------------------------------------------------------ 2. in-process USB face, USB 2.0 link model

function benchContext(onMoved: (n: number) => void = () => undefined): JobContext {
  return silentContext({ moved: onMoved });
}

const USB2_RATE = 53_000_000;
const USB2_LATENCY = '500us';

async function usbLinkModel(): Promise<void> {
  const size = QUICK ? 16 * MiB : 128 * MiB;
  const image = join(work, 'usb.img');
  makeImage(image, size, size);
  const dev = await FastbootSimDevice.create({
    ...parseSimSpec(`fastboot:USB2HS?speed=${USB2_RATE}&latency=${USB2_LATENCY}&max-download=256M&partitions=system:${size / MiB + 16}M`),
    storeDir: join(storeRoot, 'usb-store'),
  });
  const sizes = QUICK ? [16 * 1024, 256 * 1024] : [16 * 1024, 64 * 1024, 256 * 1024, 1024 * 1024];
  const flights = QUICK ? [1, 4] : [1, 2, 4, 8];
  const rows: Array<Record<string, unknown>> = [];
  const driver = fastbootFamily;
  try {
    for (const transferSize of sizes) {
      for (const inFlight of flights) {
        const link = createWebUsbLink(new SimUsbDevice(dev), FASTBOOT_USB, { kind: 'sim', transferSize, inFlight });
        let moved = 0;
        const source = await openImage(image, { hash: false });
        const t0 = performance.now();
        await driver.run(link, { op: 'flash', target: { partition: 'system' }, source }, benchContext((n) => (moved += n)));
        const s = (performance.now() - t0) / 1000;
        await link.close();
        const rate = moved / s;
        rows.push({ transferKiB: transferSize / 1024, inFlight, MBps: +(rate / 1e6).toFixed(1), ofModel: `${((rate / USB2_RATE) * 100).toFixed(1)} %` });
      }
    }
  } finally {
    await dev.close();
  }
  console.log(`\nIn-process USB face, USB 2.0 link model (${USB2_RATE / 1e6} MB/s, ${USB2_LATENCY} turnaround per idle transfer), ${size / MiB} MiB of data (flash command included), goal ≥ 90 %`);
  console.table(rows);
  results.usbLinkModel = { rate: USB2_RATE, latency: USB2_LATENCY, dataBytes: size, rows };
}

// ------------------------------------------------------------------ 3. 8 devices in parallel

async function parallelEight(): Promise<void> {
  const size = QUICK ? 8 * MiB : 64 * MiB;
  const image = join(work, 'par.img');
  makeImage(image, size * 2, size);
  const devs = await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      FastbootSimDevice.create({
        ...parseSimSpec(`fastboot:PAR${i}?speed=${USB2_RATE}&latency=${USB2_LATENCY}&max-download=256M&partitions=system:${(size * 2) / MiB + 16}M`),
        storeDir: join(storeRoot, `par-${i}`),
      }),
    ),
  );
  const driver = fastbootFamily;
  let moved = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  try {
    await Promise.all(
      devs.map(async (dev) => {
        const link = createWebUsbLink(new SimUsbDevice(dev), FASTBOOT_USB, { kind: 'sim' });
        await driver.run(link, { op: 'flash', target: { partition: 'system' }, source: await openImage(image, { hash: false }) }, benchContext((n) => (moved += n)));
        await link.close();
      }),
    );
  } finally {
    await Promise.all(devs.map((d) => d.close()));
  }
  const s = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const row = {
    devices: 8,
    dataPerDeviceMiB: size / MiB,
    seconds: +s.toFixed(2),
    aggregateMBps: +(moved / s / 1e6).toFixed(1),
    perDeviceMBps: +(moved / 8 / s / 1e6).toFixed(1),
    cpuPercentOfOneCore: +(((cpu.user + cpu.system) / 1e6 / s) * 100).toFixed(0),
  };
  console.log(`\n8 simulated devices (USB 2.0 model each) flashed in parallel from one image, in one process (host + simulators, partitions on ${storeRoot === work ? 'disk' : 'tmpfs'})`);
  console.table([row]);
  results.parallel = { ...row, store: storeRoot === work ? 'disk' : 'tmpfs' };
}

const only = (process.env.BENCH_ONLY ?? 'usb,parallel,tcp').split(',');
try {
  if (only.includes('usb')) await usbLinkModel();
  if (only.includes('parallel')) await parallelEight();
  if (only.includes('tcp')) await versusAosp();
} finally {
  rmSync(work, { recursive: true, force: true });
  if (storeRoot !== work) rmSync(storeRoot, { recursive: true, force: true });
}
mkdirSync(join(root, 'bench/results'), { recursive: true });
const out = join(root, 'bench/results/fastboot.json');
// With BENCH_ONLY, keep the sections that were not run this time.
const previous = process.env.BENCH_ONLY && existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as Record<string, unknown>) : {};
writeFileSync(out, JSON.stringify({ ...previous, ...results, measuredAt: new Date().toISOString() }, null, 2));
console.log('\nwrote bench/results/fastboot.json');
