// Station at scale: 16 parallel jobs on simulated fastboot devices at a modelled USB 2.0 speed, one image decoded once.
// Reports aggregate throughput against the sum of the link rates, event-loop delay p99 and RSS; BENCH_QUICK=1 shrinks it.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createStation } from '../src/core/station.js';
import { createSimProvider } from '../src/sim/index.js';
import type { ServerMessage } from '../src/protocol/messages.js';

const quick = process.env.BENCH_QUICK === '1';
const devices = Number(process.env.BENCH_DEVICES ?? 16);
const imageMiB = Number(process.env.BENCH_IMAGE_MIB ?? (quick ? 16 : 128));
/** USB 2.0 high speed as fastboot sees it: ~35 MiB/s of payload per device. */
const linkMiB = Number(process.env.BENCH_LINK_MIB ?? 35);
const shared = process.env.BENCH_SHARED !== '0';

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fs-bench-station-'));
  const serials = Array.from({ length: devices }, (_, i) => `BENCH${String(i).padStart(3, '0')}`);
  const sims = createSimProvider(
    serials.map((s) => `fastboot:${s}?speed=${linkMiB}M&max-download=${process.env.BENCH_MAX_DOWNLOAD ?? "16M"}&partitions=boot:16M,system:${imageMiB + 16}M`),
    { dataDir: dir },
  );
  const station = await createStation({ dataDir: dir, providers: [sims], settings: { slotLimit: devices } });
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
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  loop.enable();
  const r = shared
    ? await station.startFlash({ deviceIds: serials, partition: 'system', image })
    : { jobIds: await Promise.all(serials.map(async (s) => (await station.startFlash({ deviceId: s, partition: 'system', image })).jobId)) };
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
  const cpu = process.cpuUsage(cpu0);
  const failed = r.jobIds.filter((id) => station.job(id)?.state !== 'completed');
  const bytes = r.jobIds.reduce((n, id) => n + (station.job(id)?.bytesTransferred ?? 0), 0);
  await station.close();
  rmSync(dir, { recursive: true, force: true });

  const aggregate = bytes / seconds;
  const linkSum = devices * linkMiB * 1024 * 1024;
  const result = {
    devices, imageMiB, linkMiBPerDevice: linkMiB, sharedDecode: shared, seconds: round(seconds),
    aggregateMiBps: round(aggregate / 2 ** 20), linkSumMiBps: round(linkSum / 2 ** 20), ratio: round(aggregate / linkSum),
    eventLoopP99ms: round(loop.percentile(99) / 1e6), eventLoopMaxMs: round(loop.max / 1e6),
    peakRssMiB: round(peakRss / 2 ** 20), cpuSeconds: round((cpu.user + cpu.system) / 1e6), progressFrames: frames,
    failedJobs: failed.length,
  };
  console.table([
    { measure: 'aggregate throughput (MiB/s)', value: result.aggregateMiBps, vs: `sum of links ${result.linkSumMiBps}`, ratio: result.ratio },
    { measure: 'event-loop delay p99 (ms)', value: result.eventLoopP99ms, vs: `max ${result.eventLoopMaxMs}`, ratio: '' },
    { measure: 'peak RSS (MiB)', value: result.peakRssMiB, vs: '', ratio: '' },
    { measure: 'CPU seconds (station + in-process sims)', value: result.cpuSeconds, vs: `wall ${result.seconds}`, ratio: round(result.cpuSeconds / result.seconds) },
  ]);
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(`bench/results/station${shared ? '' : '-unshared'}.json`, `${JSON.stringify(result, null, 2)}\n`);
  if (failed.length) {
    console.error(`${failed.length} jobs did not complete`);
    process.exitCode = 1;
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

await main();
