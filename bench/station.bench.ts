// Station at scale, on the Family seam: N devices flashed in parallel through one station (one start_flash request,
// one raw image decoded once and shared). Three set-ups, each with os.loadavg() before and after:
//   null-devices  a bench-only family whose devices take bytes at once: the station core and image reading alone
//   in-process    N fastboot simulators in the station's process (`--sim`), links modelled at BENCH_LINK_MIB MiB/s
//   processes     N `flash-station sim fastboot` processes over TCP (`--connect`): the station process's CPU alone
// Reports aggregate throughput against the sum of the links, station CPU (seconds and share of a core), event-loop
// p99 and peak RSS; writes bench/results/station.json. BENCH_QUICK=1 shrinks it; BENCH_SIMS picks set-ups.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { FlashError } from '../src/contracts/errors.js';
import type { Candidate, Family, JobContext, PlanStep } from '../src/contracts/family.js';
import type { DeviceLink } from '../src/contracts/links.js';
import type { CandidateProvider } from '../src/contracts/provider.js';
import { createStation } from '../src/core/station.js';
import { createNetworkProvider } from '../src/devices/network-provider.js';
import type { ServerMessage } from '../src/protocol/messages.js';
import { runSimCli } from '../src/sim/cli.js';
import { createSimProvider } from '../src/sim/index.js';

type Mode = 'null-devices' | 'in-process' | 'processes';

const quick = process.env.BENCH_QUICK === '1';
const devices = Number(process.env.BENCH_DEVICES ?? (quick ? 8 : 16));
const imageMiB = Number(process.env.BENCH_IMAGE_MIB ?? (quick ? 16 : 128));
/** USB 2.0 high speed as fastboot sees it: ~35 MiB/s of payload per device. */
const linkMiB = Number(process.env.BENCH_LINK_MIB ?? 35);
const maxDownload = process.env.BENCH_MAX_DOWNLOAD ?? '16M';
const partitionMiB = imageMiB + 16;

function load(): string {
  return loadavg().map((l) => l.toFixed(2)).join(' ');
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

/** A family written for this bench: it claims "bench" serial candidates and takes a flash step's bytes at once. */
function nullFamily(): Family<DeviceLink> {
  return {
    protocol: 'block',
    title: 'bench null device',
    targets: ['whole'],
    match: (c: Candidate) => (c.kind === 'serial' && c.manufacturer === 'bench' ? 10 : undefined),
    connect: (): DeviceLink => ({
      open: () => Promise.reject(new FlashError('unsupported', 'a bench null device has no stream')),
      close: async () => undefined,
    }),
    probe: async (_link, c) => ({ name: `null ${c.key}`, serial: c.serial ?? c.key, info: { size: partitionMiB << 20 } }),
    async run(_link: DeviceLink, step: PlanStep, ctx: JobContext): Promise<void> {
      if (step.op !== 'flash') return;
      for await (const chunk of step.source.chunks(ctx.signal)) {
        if (chunk.kind !== 'data') continue;
        for (let off = 0; off < chunk.bytes.length; off += 1 << 20) {
          const n = Math.min(1 << 20, chunk.bytes.length - off);
          await ctx.gate.pass(ctx.signal);
          await ctx.throttle.take(n, ctx.signal);
          ctx.moved(n);
        }
      }
    },
  };
}

function nullProvider(serials: string[]): CandidateProvider {
  return {
    name: 'bench-null',
    start: async (sink) => {
      for (const s of serials) sink.offer({ kind: 'serial', key: `bench:${s}`, transport: 'sim', path: `bench:${s}`, port: `bench:${s}`, serial: s, manufacturer: 'bench' });
    },
    stop: async () => undefined,
  };
}

/** One `flash-station sim fastboot` child per serial on a free TCP port; resolves with their `tcp:HOST:PORT` URIs. */
function startChildren(dir: string, serials: string[], children: ChildProcess[]): Promise<string[]> {
  return Promise.all(
    serials.map(
      (serial) =>
        new Promise<string>((resolve, reject) => {
          const args = ['--sim-child', 'fastboot', '--tcp', '0', '--serial', serial, '--speed', `${linkMiB}M`, '--max-download', maxDownload,
            '--partition', 'boot=16M', '--partition', `system=${partitionMiB}M`, '--store', join(dir, 'sim', serial)];
          const child = spawn(process.execPath, [process.argv[1] ?? '', ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
          children.push(child);
          child.stdout.on('data', (d: Buffer) => {
            const m = /listening (tcp:\S+)/.exec(d.toString());
            if (m?.[1]) resolve(m[1]);
          });
          child.once('exit', (code) => reject(new Error(`simulator ${serial} exited ${code}`)));
        }),
    ),
  );
}

async function run(mode: Mode): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'fs-bench-station-'));
  const serials = Array.from({ length: devices }, (_, i) => `BENCH${String(i).padStart(3, '0')}`);
  const children: ChildProcess[] = [];
  const loadBefore = load();
  let provider: CandidateProvider;
  if (mode === 'null-devices') provider = nullProvider(serials);
  else if (mode === 'in-process') {
    provider = createSimProvider(
      serials.map((s) => `fastboot:${s}?speed=${linkMiB}M&max-download=${maxDownload}&partitions=boot:16M,system:${partitionMiB}M`),
      { dataDir: dir },
    );
  } else provider = createNetworkProvider(await startChildren(dir, serials, children), { protocol: 'fastboot', pollMs: 200 });
  const station = await createStation({
    dataDir: dir,
    providers: [provider],
    ...(mode === 'null-devices' ? { families: [nullFamily()] } : {}),
    settings: { slotLimit: devices },
  });
  const deadline = Date.now() + 60_000;
  while (station.devices().filter((d) => d.state === 'idle').length < devices) {
    if (Date.now() > deadline) throw new Error(`${mode}: only ${station.devices().length} of ${devices} devices became idle`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const image = join(dir, 'system.img');
  writeFileSync(image, randomBytes(imageMiB << 20));
  let frames = 0;
  const ended = new Set<string>();
  let wake = (): void => undefined;
  station.subscribe((m: ServerMessage) => {
    if (m.type === 'flash_progress') frames++;
    if (m.type === 'flash_completed' || m.type === 'flash_failed') {
      ended.add(m.jobId);
      wake();
    }
  });

  const loop = monitorEventLoopDelay({ resolution: 10 });
  let peakRss = 0;
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 250);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  loop.enable();
  const target = mode === 'null-devices' ? {} : { partition: 'system' };
  const { jobIds } = await station.startFlash({ deviceIds: station.devices().map((d) => d.id), ...target, image });
  await new Promise<void>((resolve) => {
    wake = () => {
      if (jobIds.every((id) => ended.has(id))) resolve();
    };
    wake();
  });
  const seconds = (performance.now() - t0) / 1000;
  loop.disable();
  clearInterval(rssTimer);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  const cpu = process.cpuUsage(cpu0);
  const failed = jobIds.filter((id) => station.job(id)?.state !== 'completed');
  const bytes = jobIds.reduce((n, id) => n + (station.job(id)?.bytesTransferred ?? 0), 0);
  await station.close();
  for (const c of children) c.kill('SIGTERM');
  await Promise.all(children.filter((c) => c.exitCode === null).map((c) => new Promise((r) => c.once('exit', r))));
  rmSync(dir, { recursive: true, force: true });

  const linkSum = devices * linkMiB * 2 ** 20; // null devices: compared with the USB 2.0 links they stand for
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const result = {
    mode, devices, imageMiB, linkMiBPerDevice: linkMiB, seconds: round(seconds),
    aggregateMiBps: round(bytes / seconds / 2 ** 20), linkSumMiBps: round(linkSum / 2 ** 20), ratio: round(bytes / seconds / linkSum),
    cpuSeconds: round(cpuSeconds), coresUsed: round(cpuSeconds / seconds), cpuMsPerMiB: round((cpuSeconds * 1000) / (bytes / 2 ** 20)),
    eventLoopP99ms: round(loop.percentile(99) / 1e6), peakRssMiB: round(peakRss / 2 ** 20), progressFrames: frames,
    failedJobs: failed.length, loadBefore, loadAfter: load(),
  };
  const titles: Record<Mode, string> = {
    'null-devices': 'devices that take bytes at once (bench family): the station core and image reading alone',
    'in-process': `${devices} fastboot simulators in the station process (--sim); CPU includes the simulators`,
    processes: `${devices} fastboot simulator processes over TCP (--connect); CPU is the station process alone`,
  };
  console.log(`\n${titles[mode]}  (load ${loadBefore} → ${result.loadAfter})`);
  console.table([
    { measure: 'aggregate throughput (MiB/s)', value: result.aggregateMiBps, vs: `sum of links ${result.linkSumMiBps}`, ratio: result.ratio },
    { measure: 'station CPU (s)', value: result.cpuSeconds, vs: `wall ${result.seconds} s`, ratio: `${result.coresUsed} cores, ${result.cpuMsPerMiB} ms/MiB` },
    { measure: 'event-loop delay p99 (ms)', value: result.eventLoopP99ms, vs: '', ratio: '' },
    { measure: 'peak RSS (MiB)', value: result.peakRssMiB, vs: `${frames} progress frames`, ratio: '' },
  ]);
  if (failed.length) {
    console.error(`${mode}: ${failed.length} jobs did not complete: ${failed.map((id) => station.job(id)?.error ?? id).join('; ')}`);
    process.exitCode = 1;
  }
  return result;
}

async function main(): Promise<void> {
  const modes = (process.env.BENCH_SIMS ?? 'null-devices,in-process,processes').split(',') as Mode[];
  const results = [];
  for (const mode of modes) results.push(await run(mode));
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/station.json', `${JSON.stringify({ machine: '2 cores, shared', results }, null, 2)}\n`);
}

if (process.argv[2] === '--sim-child') process.exitCode = (await runSimCli(process.argv.slice(3))) ?? 2;
else await main();
