// STM32: a 64 KiB image written and verified on the AN3155 simulator (a child process on a socat pty pair), our
// family against Debian `stm32flash -m 8n1 -w -v` at the same modelled baud; each run gets a fresh simulator.
// Then 8 simulated boards flashed at once through one family instance: aggregate rate against the sum of the
// modelled links, and the station's CPU. Wall time, CPU, the load average beside every figure.
// BENCH_QUICK=1: 16 KiB, one round, one baud. Child mode (`sim TTY:STORE…`): runs simulators, prints `ready`.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { SerialCandidate } from '../src/contracts/family.js';
import { createStm32Family } from '../src/drivers/stm32/index.js';
import type { BlockSource, Chunk } from '../src/contracts/source.js';
import { load, pattern, silentContext } from './bench-kit.js';
import { serveSimsOnTtys } from './sim-children.js';

const quick = process.env.BENCH_QUICK === '1';
const KiB = 1024;
const SIZE = quick ? 16 * KiB : 64 * KiB;
const ROUNDS = Number(process.env.STM32_BENCH_ROUNDS ?? (quick ? 1 : 3));
const BAUDS = quick ? [460800] : [115200, 460800];
const PARALLEL = 8;
/** STM32_BENCH_OURS=1: only our single-board runs (for profiling). */
const ONLY_OURS = process.env.STM32_BENCH_OURS === '1';

// ---------------------------------------------------------------- child: simulators

if (process.argv[2] === 'sim') await serveSimsOnTtys('stm32', process.argv.slice(4), ['--baud', process.argv[3] ?? '115200', '--flash-size', '128K']);

// ---------------------------------------------------------------- parent

function memorySource(bytes: Uint8Array): BlockSource {
  return {
    size: bytes.length, dataBytes: bytes.length, exact: true, description: 'bench.bin', blockSize: 4096, reopenable: true,
    async *chunks(): AsyncIterable<Chunk> {
      yield { kind: 'data', offset: 0, bytes };
    },
    sha256: async () => '',
  };
}

interface Pty {
  host: string;
  device: string;
  child: ChildProcess;
}

async function ptyPair(dir: string, name: string): Promise<Pty> {
  const host = join(dir, `${name}-host`);
  const device = join(dir, `${name}-dev`);
  const child = spawn('socat', [`pty,raw,echo=0,link=${host}`, `pty,raw,echo=0,link=${device}`], { stdio: 'ignore' });
  for (let i = 0; i < 250 && !(existsSync(host) && existsSync(device)); i++) await new Promise((r) => setTimeout(r, 20));
  if (!existsSync(host)) throw new Error('socat did not start');
  return { host, device, child };
}

async function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null) return;
  const done = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  await done;
}

/** A fresh simulator process (erased flash, waiting for 0x7F) on each device end. */
async function startSims(self: string, baud: number, ends: Array<{ tty: string; store: string }>): Promise<ChildProcess> {
  for (const e of ends) rmSync(e.store, { recursive: true, force: true });
  const child = spawn(process.execPath, [self, 'sim', String(baud), ...ends.map((e) => `${e.tty}=${e.store}`)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolveReady, reject) => {
    child.stdout?.on('data', (d: Buffer) => (d.toString().includes('ready') ? resolveReady() : undefined));
    child.once('exit', (code) => reject(new Error(`simulator exited ${code}`)));
  });
  return child;
}

interface Run {
  tool: string;
  baud: number;
  wallS: number;
  cpuS: number;
  load: string;
}

async function ours(pty: Pty, baud: number, image: Uint8Array): Promise<{ wallS: number; cpuS: number }> {
  const family = createStm32Family();
  const candidate: SerialCandidate = { kind: 'serial', key: pty.host, transport: 'serial', path: pty.host, protocol: 'stm32', baudRate: baud };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const link = family.connect(candidate);
  await family.probe(link, candidate, new AbortController().signal);
  await family.run(link, { op: 'flash', target: { address: 0x0800_0000 }, source: memorySource(image) }, silentContext());
  await link.close();
  const wallS = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(cpu0);
  return { wallS, cpuS: (c.user + c.system) / 1e6 };
}

function stm32flash(pty: Pty, baud: number, file: string): { wallS: number; cpuS: number } {
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S', 'stm32flash', '-m', '8n1', '-b', String(baud), '-w', file, '-v', '-S', '0x08000000', pty.host], { encoding: 'utf8' });
  const wallS = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`stm32flash failed: ${r.stdout}${r.stderr}`);
  const last = r.stderr.trim().split('\n').pop() ?? '0 0';
  const [u = 0, s = 0] = last.split(' ').map(Number);
  return { wallS, cpuS: u + s };
}

function check(store: string, image: Uint8Array, what: string): void {
  const flash = readFileSync(join(store, 'flash.bin'));
  if (Buffer.compare(flash.subarray(0, image.length), Buffer.from(image)) !== 0) throw new Error(`${what}: flash.bin differs from the image`);
}

async function main(): Promise<void> {
  const self = resolve(process.argv[1] ?? '');
  const dir = mkdtempSync(join(tmpdir(), 'fs-stm32-bench-'));
  const image = pattern(SIZE, 1);
  const file = join(dir, 'image.bin');
  writeFileSync(file, image);
  const pty = await ptyPair(dir, 'one');
  const store = join(dir, 'store');
  const runs: Run[] = [];
  console.log(`STM32 ${SIZE / KiB} KiB write + verify, simulator on a socat pty pair, ${ROUNDS} round(s), load ${load()}`);
  try {
    for (const baud of BAUDS) {
      for (let round = 0; round < ROUNDS; round++) {
        for (const tool of ONLY_OURS ? (['ours'] as const) : (['ours', 'stm32flash'] as const)) {
          const sim = await startSims(self, baud, [{ tty: pty.device, store }]);
          const r = tool === 'ours' ? await ours(pty, baud, image) : stm32flash(pty, baud, file);
          await stopChild(sim);
          check(store, image, tool);
          runs.push({ tool, baud, ...r, load: load() });
          console.log(`  ${String(baud).padStart(6)} baud  ${tool.padEnd(10)} ${r.wallS.toFixed(2)} s wall, ${r.cpuS.toFixed(2)} s CPU  (load ${load()})`);
        }
      }
    }
    const summary: Record<string, unknown> = {};
    for (const baud of BAUDS) {
      const med = (tool: string): number => {
        const v = runs.filter((r) => r.tool === tool && r.baud === baud).map((r) => r.wallS).sort((a, b) => a - b);
        return v[Math.floor(v.length / 2)] ?? NaN;
      };
      const modelS = ((SIZE / 256) * (268 + 268)) / (baud / 10);
      const ratio = med('ours') / med('stm32flash');
      summary[String(baud)] = { oursS: med('ours'), stm32flashS: med('stm32flash'), ratio, wireModelS: modelS };
      if (ONLY_OURS) continue;
      console.log(`  ${baud} baud: ours ${med('ours').toFixed(2)} s vs stm32flash ${med('stm32flash').toFixed(2)} s = ${ratio.toFixed(3)}x (wire alone ≈ ${modelS.toFixed(2)} s)`);
    }

    if (ONLY_OURS) return;
    // 8 boards at once through one family instance.
    const baud = BAUDS[BAUDS.length - 1] ?? 460800;
    const ptys: Pty[] = [];
    for (let i = 0; i < PARALLEL; i++) ptys.push(await ptyPair(dir, `p${i}`));
    const ends = ptys.map((p, i) => ({ tty: p.device, store: join(dir, `store${i}`) }));
    const sims = await startSims(self, baud, ends);
    const images = ptys.map((_, i) => pattern(SIZE, i + 10));
    const family = createStm32Family();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await Promise.all(
      ptys.map(async (p, i) => {
        const c: SerialCandidate = { kind: 'serial', key: p.host, transport: 'serial', path: p.host, protocol: 'stm32', baudRate: baud };
        const link = family.connect(c);
        await family.probe(link, c, new AbortController().signal);
        await family.run(link, { op: 'flash', target: { address: 0x0800_0000 }, source: memorySource(images[i] ?? new Uint8Array()) }, silentContext());
        await link.close();
      }),
    );
    const wallS = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuS = (cpu.user + cpu.system) / 1e6;
    await stopChild(sims);
    ends.forEach((e, i) => check(e.store, images[i] ?? new Uint8Array(), `board ${i}`));
    for (const p of ptys) await stopChild(p.child);
    // Bytes on the wire per board, both ways (write: 265 out + 3 ACKs; verify: 9 out + 3 ACKs + 256 back): the
    // protocol is request-answer, so one direction carries at a time; against 8 links at baud/10 bytes/s.
    const wire = (SIZE / 256) * (268 + 268);
    const modelRate = PARALLEL * (baud / 10);
    const rate = (PARALLEL * wire) / wallS;
    const parallel = { boards: PARALLEL, baud, wallS, stationCpuS: cpuS, stationCorePct: (100 * cpuS) / wallS, aggregateBytesPerS: rate, modelBytesPerS: modelRate, ofModelPct: (100 * rate) / modelRate, load: load() };
    console.log(`  ${PARALLEL} boards at ${baud} baud: ${wallS.toFixed(2)} s, ${(rate / 1000).toFixed(1)} kB/s on the wires = ${parallel.ofModelPct.toFixed(1)} % of the ${PARALLEL} modelled links; station CPU ${cpuS.toFixed(2)} s = ${parallel.stationCorePct.toFixed(1)} % of one core (load ${load()})`);
    mkdirSync(join('bench', 'results'), { recursive: true });
    writeFileSync(join('bench', 'results', 'stm32.json'), JSON.stringify({ date: new Date().toISOString(), size: SIZE, rounds: ROUNDS, runs, summary, parallel }, null, 2));
  } finally {
    await stopChild(pty.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
