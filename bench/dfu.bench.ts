// DFU: our host (the DFU family) against the in-process DFU simulator on its modelled USB links — full speed (12 Mbit/s,
// 64-byte EP0) and high speed — with and without the flash programming time the simulator reports as bwPollTimeout.
// Each figure is set against the modelled ceiling: the least time the link and the device's poll timeouts allow for
// the requests DFU needs (per block: DNLOAD, GETSTATUS → dfuDNBUSY, the poll wait, GETSTATUS → dfuDNLOAD-IDLE; plus
// SET_ADDRESS and the page erases on DfuSe). The read-back (UPLOAD) is set against its own ceiling. WebDFU (npm `dfu`)
// writes the same image on the same simulator for comparison. The load average is printed beside every figure.
// BENCH_QUICK=1: smaller images, one round.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebDFU } from 'dfu';
import type { JobContext } from '../src/contracts/family.js';
import { createDfuFamily } from '../src/drivers/dfu/index.js';
import { openImage } from '../src/images/open.js';
import { createDfuSim, DfuSimDevice, dfuSimConfig, type DfuSimInstance } from '../src/sim/dfu/index.js';
import { LINK_MODELS, controlTransferMicros, type ControlLinkModel } from '../src/sim/dfu/link-model.js';
import { load, pattern } from './bench-kit.js';

const quick = process.env.BENCH_QUICK === '1';
const ROUNDS = Number(process.env.DFU_BENCH_ROUNDS ?? (quick ? 1 : 3));
const KiB = 1024;
const BASE = 0x08000000;

interface Scenario {
  name: string;
  params: Record<string, string>;
  size: number;
}

const ALL_SCENARIOS: Scenario[] = [
  { name: 'DfuSe FS, link only', params: { dfuse: '1', flash: '1M', speed: 'fs' }, size: quick ? 128 * KiB : 768 * KiB },
  { name: 'DfuSe FS, 256 KiB/s flash', params: { dfuse: '1', flash: '1M', speed: 'fs', 'program-rate': '262144', 'erase-ms-per-kib': '0.5' }, size: quick ? 128 * KiB : 512 * KiB },
  { name: 'DFU 1.1 HS, link only', params: { dfuse: '0', flash: '16M', speed: 'hs', 'transfer-size': '4096' }, size: quick ? 2048 * KiB : 8192 * KiB },
  { name: 'DFU 1.1 HS, 4 MiB/s flash', params: { dfuse: '0', flash: '16M', speed: 'hs', 'transfer-size': '4096', 'program-rate': '4194304' }, size: quick ? 1024 * KiB : 4096 * KiB },
  // No link model: what one block costs the host and the simulator in CPU and event-loop turns (the floor under the rest).
  { name: 'DFU 1.1, no link model', params: { dfuse: '0', flash: '16M', speed: 'none', 'transfer-size': '4096' }, size: quick ? 2048 * KiB : 8192 * KiB },
];

/** DFU_BENCH_ONLY=2 runs the third scenario alone; DFU_BENCH_OURS=1 skips WebDFU (for profiling). */
const only = process.env.DFU_BENCH_ONLY;
const SCENARIOS = only === undefined ? ALL_SCENARIOS : [ALL_SCENARIOS[Number(only)]!];
const TOOLS = process.env.DFU_BENCH_OURS === '1' ? (['flash-station'] as const) : (['flash-station', 'WebDFU (npm dfu)'] as const);

function sim(dir: string, s: Scenario): DfuSimInstance {
  const cfg = dfuSimConfig('BENCH1', new Map(Object.entries(s.params)));
  return createDfuSim(new DfuSimDevice(cfg, join(dir, 'store')));
}

function context(): JobContext & { bytes: number } {
  const ctx = {
    jobId: 'bench',
    deviceId: 'BENCH1',
    signal: new AbortController().signal,
    bytes: 0,
    gate: { pass: async () => undefined },
    throttle: { take: async () => undefined },
    moved(n: number) {
      ctx.bytes += n;
    },
    stage: () => undefined,
    log: () => undefined,
    waitForDevice: () => Promise.reject(new Error('no reboot in this bench')),
  };
  return ctx;
}

/** Least time (ms) the modelled link and the device's reported poll timeouts allow for a write and for a read-back. */
function ceiling(s: Scenario, sim: DfuSimInstance): { writeMs: number; readMs: number; pollMs: number } {
  const cfg = sim.device.config;
  const ts = cfg.transferSize;
  const model: ControlLinkModel | undefined = cfg.speed === 'none' ? undefined : LINK_MODELS[cfg.speed];
  const t = (n: number): number => (model ? controlTransferMicros(model, n) / 1000 : 0);
  const status2 = 2 * t(6);
  let writeMs = 0;
  let readMs = 0;
  let pollMs = 0;
  const blocks = Math.ceil(s.size / ts);
  for (let i = 0; i < blocks; i++) {
    const n = Math.min(ts, s.size - i * ts);
    const poll = cfg.programRate > 0 ? Math.ceil((n * 1000) / cfg.programRate) : 0;
    writeMs += t(n) + status2 + poll;
    pollMs += poll;
    readMs += t(n);
  }
  if (cfg.dfuse) {
    // SET_ADDRESS, and one ERASE per sector touched (its erase time as the poll timeout).
    writeMs += t(5) + status2;
    for (const sec of sim.device.sectors) {
      if (sec.start - BASE >= s.size) break;
      const poll = Math.ceil((sec.size / 1024) * cfg.eraseMsPerKiB);
      writeMs += t(5) + status2 + poll;
      pollMs += poll;
    }
    readMs += t(5) + status2; // SET_ADDRESS before the UPLOADs
  } else {
    writeMs += t(0) + 2 * t(6) + (cfg.manifestMs > 0 ? cfg.manifestMs : 0); // zero-length DNLOAD, manifestation
  }
  return { writeMs, readMs, pollMs };
}

interface Run {
  scenario: string;
  tool: string;
  bytes: number;
  writeMs: number;
  readMs?: number;
  writeCeilingMs: number;
  readCeilingMs?: number;
  writeShare: number;
  readShare?: number;
  /** CPU time of this process (host and simulator together) during the write, ms. */
  cpuMs: number;
  kibPerS: number;
  load: string;
}

async function ours(s: Scenario, dir: string, image: Uint8Array): Promise<Run> {
  const instance = sim(dir, s);
  try {
    const family = createDfuFamily();
    const link = family.connect(instance.candidate());
    await family.probe(link, instance.candidate(), AbortSignal.timeout(10_000));
    const path = join(dir, 'image.bin');
    writeFileSync(path, image);
    const target = s.params.dfuse === '1' ? { address: BASE } : { whole: true as const };
    const c = ceiling(s, instance);
    const ctx = context();
    const source = await openImage(path, { hash: false });
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await family.run(link, { op: 'flash', target, source }, ctx);
    const writeMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    if (ctx.bytes !== image.length) throw new Error(`moved ${ctx.bytes} of ${image.length}`);
    const verifySource = await openImage(path, { hash: false });
    const t1 = performance.now();
    await family.run(link, { op: 'verify', target, source: verifySource }, context());
    const readMs = performance.now() - t1;
    return {
      scenario: s.name, tool: 'flash-station', bytes: image.length, writeMs, readMs, writeCeilingMs: c.writeMs, readCeilingMs: c.readMs,
      writeShare: c.writeMs / writeMs, readShare: c.readMs / readMs, cpuMs: (cpu.user + cpu.system) / 1000, kibPerS: image.length / 1024 / (writeMs / 1000), load: load(),
    };
  } finally {
    await instance.close();
  }
}

const quiet = { info: () => undefined, warning: () => undefined, progress: () => undefined };

async function webdfu(s: Scenario, dir: string, image: Uint8Array): Promise<Run> {
  const instance = sim(dir, s);
  try {
    const dfu = new WebDFU(instance.face() as unknown as USBDevice, { forceInterfacesName: true }, quiet);
    await dfu.init();
    if (s.params.dfuse !== '1') for (const i of dfu.interfaces) i.name = undefined;
    await dfu.connect(0);
    if (s.params.dfuse === '1') dfu.dfuseStartAddress = BASE;
    const c = ceiling(s, instance);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const w = dfu.write(instance.device.config.transferSize, image.slice().buffer, s.params.dfuse !== '1');
    await new Promise<void>((resolve, reject) => {
      w.events.on('end', () => resolve());
      w.events.on('error', (e: unknown) => (String(e).includes('disconnected') ? resolve() : reject(e instanceof Error ? e : new Error(String(e)))));
    });
    const writeMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const got = instance.device.flash.read(s.params.dfuse === '1' ? 0 : 0, image.length);
    if (Buffer.compare(Buffer.from(got), Buffer.from(image)) !== 0) throw new Error('WebDFU wrote something else');
    return {
      scenario: s.name, tool: 'WebDFU (npm dfu)', bytes: image.length, writeMs, writeCeilingMs: c.writeMs, writeShare: c.writeMs / writeMs,
      cpuMs: (cpu.user + cpu.system) / 1000,
      kibPerS: image.length / 1024 / (writeMs / 1000), load: load(),
    };
  } finally {
    await instance.close();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const runs: Run[] = [];
const failures: Array<Record<string, string>> = [];
const summary: Array<Record<string, string | number>> = [];
for (const s of SCENARIOS) {
  const image = pattern(s.size, s.size);
  for (const tool of TOOLS) {
    const mine: Run[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const dir = mkdtempSync(join(tmpdir(), 'fs-dfubench-'));
      try {
        const run = tool === 'flash-station' ? await ours(s, dir, image) : await webdfu(s, dir, image).catch((e: unknown) => {
          // WebDFU sleeps bwPollTimeout with setTimeout, whose millisecond clock can wake it before the time is up; a
          // device still in dfuDNBUSY then stalls its GETSTATUS. Counted as a failed run, not a figure.
          failures.push({ scenario: s.name, tool, error: String(e).slice(0, 160), load: load() });
          console.log(`${s.name} | ${tool} | failed: ${String(e).slice(0, 120)} | ${load()}`);
          return undefined;
        });
        if (!run) continue;
        mine.push(run);
        runs.push(run);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    if (!mine.length) continue;
    const m = (f: (r: Run) => number | undefined): number => median(mine.map((r) => f(r) ?? 0));
    const row = {
      scenario: s.name,
      tool,
      size_kib: s.size / 1024,
      write_ms: Math.round(m((r) => r.writeMs)),
      ceiling_ms: Math.round(m((r) => r.writeCeilingMs)),
      cpu_ms: Math.round(m((r) => r.cpuMs)),
      write_of_ceiling: s.params.speed === 'none' ? '-' : `${(m((r) => r.writeShare) * 100).toFixed(1)} %`,
      // The fastest round: the least disturbed by the other processes on a shared machine.
      best_of_ceiling: s.params.speed === 'none' ? '-' : `${(Math.max(...mine.map((r) => r.writeShare)) * 100).toFixed(1)} %`,
      us_per_block: Math.round((m((r) => r.writeMs) * 1000) / Math.ceil(s.size / Number(s.params['transfer-size'] ?? (s.params.dfuse === '1' ? 2048 : 4096)))),
      kib_per_s: Math.round(m((r) => r.kibPerS)),
      read_of_ceiling: tool === 'flash-station' && s.params.speed !== 'none' ? `${(m((r) => r.readShare) * 100).toFixed(1)} %` : '-',
      runs: `${mine.length}/${ROUNDS}`,
      load: mine.at(-1)!.load,
    };
    summary.push(row);
    console.log(Object.values(row).join(' | '));
  }
}
console.table(summary);
console.log(`load average (1, 5, 15 min): ${load()} — the machine is shared; figures move with it`);
mkdirSync(join('bench', 'results'), { recursive: true });
writeFileSync(join('bench', 'results', 'dfu.json'), JSON.stringify({ date: new Date().toISOString(), quick, rounds: ROUNDS, runs, summary, failures }, null, 2));
