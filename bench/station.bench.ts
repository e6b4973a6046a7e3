// Station at scale: 16 parallel jobs on simulated fastboot devices at a modelled USB 2.0 speed, one image decoded once.
// Reports aggregate throughput against the sum of the link rates, event-loop delay p99 and RSS; BENCH_QUICK=1 shrinks it.
// Two set-ups: the simulators in the station's process (USB-shaped, as `--sim`), and the simulators in 16 processes of
// their own over TCP (as `flash-station sim fastboot`), so the station's own CPU, event loop and memory stand alone.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createStation } from '../src/core/station.js';
import { createNetworkProvider } from '../src/devices/network-provider.js';
import { createSimProvider, runFastbootSimCli } from '../src/sim/index.js';
import type { DeviceProvider, Driver } from '../src/core/types.js';
import type { ServerMessage } from '../src/protocol/messages.js';

const quick = process.env.BENCH_QUICK === '1';
const devices = Number(process.env.BENCH_DEVICES ?? 16);
const imageMiB = Number(process.env.BENCH_IMAGE_MIB ?? (quick ? 16 : 128));
/** USB 2.0 high speed as fastboot sees it: ~35 MiB/s of payload per device. */
const linkMiB = Number(process.env.BENCH_LINK_MIB ?? 35);
const shared = process.env.BENCH_SHARED !== '0';

const maxDownload = process.env.BENCH_MAX_DOWNLOAD ?? '16M';

/** Start one `sim fastboot` child per serial on a free TCP port; resolves with their `tcp:HOST:PORT` URIs. */
async function startChildren(dir: string, serials: string[], children: ChildProcess[]): Promise<string[]> {
  return Promise.all(
    serials.map(
      (serial) =>
        new Promise<string>((resolve, reject) => {
          const child = spawn(process.execPath, [process.argv[1] as string, '--sim-child', 'fastboot', '--tcp', '0', '--serial', serial,
            '--speed', `${linkMiB}M`, '--max-download', maxDownload, '--partition', 'boot=16M', '--partition', `system=${imageMiB + 16}M`,
            '--store', join(dir, 'sim', serial)], { stdio: ['ignore', 'pipe', 'ignore'] });
          children.push(child);
          child.stdout?.on('data', (d: Buffer) => {
            const m = /listening (tcp:\S+)/.exec(d.toString());
            if (m) resolve(m[1] as string);
          });
          child.once('exit', (code) => reject(new Error(`simulator ${serial} exited ${code}`)));
        }),
    ),
  );
}

/**
 * Devices that take bytes as fast as they come (no link, no storage): what is left is the station's own ceiling —
 * scheduling, shared decode, gate, throttle, meter, events and history — with the image pipeline's reading.
 */
function nullDevices(serials: string[]): DeviceProvider {
  const driver: Driver = {
    protocol: 'fastboot',
    describe: async () => ({ info: {}, partitions: [{ name: 'system', size: (imageMiB + 16) << 20 }] }),
    async run(_link, step, ctx) {
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
  const link = { open: () => Promise.reject(new Error('no transport')), close: async () => undefined };
  return {
    name: 'null',
    start: async (sink) => {
      for (const s of serials) sink.attach({ device: { id: s, protocol: 'fastboot', transport: 'sim', name: s, serial: s, info: {} }, driver, link });
    },
    stop: async () => undefined,
  };
}

async function run(mode: 'in-process' | 'processes' | 'null-devices'): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'fs-bench-station-'));
  const serials = Array.from({ length: devices }, (_, i) => `BENCH${String(i).padStart(3, '0')}`);
  const children: ChildProcess[] = [];
  let provider: DeviceProvider;
  if (mode === 'null-devices') {
    provider = nullDevices(serials);
  } else if (mode === 'in-process') {
    provider = createSimProvider(
      serials.map((s) => `fastboot:${s}?speed=${linkMiB}M&max-download=${maxDownload}&partitions=boot:16M,system:${imageMiB + 16}M`),
      { dataDir: dir },
    );
  } else {
    provider = createNetworkProvider(await startChildren(dir, serials, children));
  }
  const station = await createStation({ dataDir: dir, providers: [provider], settings: { slotLimit: devices } });
  const deadline = Date.now() + 30_000;
  while (station.devices().filter((d) => d.state === 'idle').length < devices) {
    if (Date.now() > deadline) throw new Error('devices did not become idle');
    await new Promise((r) => setTimeout(r, 20));
  }
  const image = join(dir, 'system.img');
  writeFileSync(image, randomBytes(imageMiB << 20));
  let frames = 0;
  station.subscribe((m: ServerMessage) => {
    if (m.type === 'flash_progress') frames++;
  });

  const loop = monitorEventLoopDelay({ resolution: 10 });
  let peakRss = 0;
  let peakBuffers = 0;
  let peakHeap = 0;
  const rssTimer = setInterval(() => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakBuffers = Math.max(peakBuffers, m.arrayBuffers);
    peakHeap = Math.max(peakHeap, m.heapUsed);
  }, 500);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  loop.enable();
  const ids = station.devices().map((d) => d.id);
  const r = shared
    ? await station.startFlash({ deviceIds: ids, partition: 'system', image })
    : { jobIds: await Promise.all(ids.map(async (s) => (await station.startFlash({ deviceId: s, partition: 'system', image })).jobId)) };
  await new Promise<void>((resolve) => {
    const check = (): void => {
      if (r.jobIds.every((id) => ['completed', 'failed', 'cancelled'].includes(station.job(id)?.state ?? ''))) resolve();
    };
    station.subscribe(check);
    check();
  });
  const seconds = (performance.now() - t0) / 1000;
  loop.disable();
  clearInterval(rssTimer);
  const last = process.memoryUsage();
  peakRss = Math.max(peakRss, last.rss);
  peakBuffers = Math.max(peakBuffers, last.arrayBuffers);
  peakHeap = Math.max(peakHeap, last.heapUsed);
  const cpu = process.cpuUsage(cpu0);
  const failed = r.jobIds.filter((id) => station.job(id)?.state !== 'completed');
  const bytes = r.jobIds.reduce((n, id) => n + (station.job(id)?.bytesTransferred ?? 0), 0);
  await station.close();
  for (const c of children) c.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
  rmSync(dir, { recursive: true, force: true });

  const aggregate = bytes / seconds;
  const linkSum = devices * linkMiB * 1024 * 1024; // null devices: compared with the USB 2.0 links they stand for
  const result = {
    simulators: mode, devices, imageMiB, linkMiBPerDevice: linkMiB, sharedDecode: shared, seconds: round(seconds),
    aggregateMiBps: round(aggregate / 2 ** 20), linkSumMiBps: round(linkSum / 2 ** 20), ratio: round(aggregate / linkSum),
    eventLoopP99ms: round(loop.percentile(99) / 1e6), eventLoopMaxMs: round(loop.max / 1e6),
    peakRssMiB: round(peakRss / 2 ** 20), peakArrayBuffersMiB: round(peakBuffers / 2 ** 20), peakHeapMiB: round(peakHeap / 2 ** 20), cpuSeconds: round((cpu.user + cpu.system) / 1e6), progressFrames: frames,
    failedJobs: failed.length,
  };
  const titles = {
    'in-process': 'simulators inside the station process (USB-shaped, as --sim)',
    processes: 'simulators in 16 processes over TCP; figures are the station process alone',
    'null-devices': 'devices that take bytes instantly: the station core and image reading alone (its ceiling)',
  };
  console.log(`\n${titles[mode]}`);
  console.table([
    { measure: 'aggregate throughput (MiB/s)', value: result.aggregateMiBps, vs: `sum of links ${result.linkSumMiBps}`, ratio: result.ratio },
    { measure: 'event-loop delay p99 (ms)', value: result.eventLoopP99ms, vs: `max ${result.eventLoopMaxMs}`, ratio: '' },
    { measure: 'peak RSS (MiB)', value: result.peakRssMiB, vs: `buffers ${result.peakArrayBuffersMiB}, heap ${result.peakHeapMiB}`, ratio: '' },
    { measure: mode === 'in-process' ? 'CPU seconds (station + sims)' : 'CPU seconds (station only)', value: result.cpuSeconds, vs: `wall ${result.seconds}`, ratio: round(result.cpuSeconds / result.seconds) },
  ]);
  if (failed.length) {
    console.error(`${failed.length} jobs did not complete`);
    process.exitCode = 1;
  }
  return result;
}

async function main(): Promise<void> {
  const modes = (process.env.BENCH_SIMS ?? 'null-devices,in-process,processes').split(',') as Array<'in-process' | 'processes' | 'null-devices'>;
  const results = [];
  for (const mode of modes) results.push(await run(mode));
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(`bench/results/station${shared ? '' : '-unshared'}.json`, `${JSON.stringify({ machine: '2 cores, shared', results }, null, 2)}\n`);
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

if (process.argv[2] === '--sim-child') process.exitCode = await runFastbootSimCli(process.argv.slice(3));
else await main();
