// ESP: an ESP-IDF build (bootloader 0x1000, partition table 0x8000, 1.5 MiB app 0x10000, via flasher_args.json)
// written to the ESP32 simulator by our ESP family and by Espressif's esptool-js (writeFlash, compressed, MD5), both
// over the same in-process serial line with DTR/RTS wired to the chip and the same UART model: 115200 baud at reset,
// 921600 after the switch. Each run gets a fresh simulator; runs alternate. Wall time from the first reset to the
// last MD5 check, CPU, the load average beside every figure. Then 8 boards at once: standalone simulators in a child
// process on socat pty pairs, flashed through 8 family instances over the serial transport; the station's CPU.
// BENCH_QUICK=1: a 256 KiB app, one round. Child mode (`sim TTY=STORE…`) runs the simulators.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { ESPLoader, Transport as EspTransport } from 'esptool-js';
import type { SerialCandidate } from '../src/contracts/family.js';
import type { SimInstance } from '../src/contracts/simulator.js';
import { createEspFamily, readEspPlan } from '../src/drivers/esp/index.js';
import { WebSerialPort } from '../src/drivers/esp/web-serial.js';
import { espSimulatorFactory } from '../src/sim/esp/factory.js';
import { load, silentContext } from './bench-kit.js';
import { serveSimsOnTtys } from './sim-children.js';


// ---------------------------------------------------------------- child: simulators on ptys

if (process.argv[2] === 'sim') await serveSimsOnTtys('esp', process.argv.slice(3), ['--flash-size', '4M']);

const quick = process.env.BENCH_QUICK === '1';
const APP = quick ? 256 * 1024 : 1536 * 1024;
const ROUNDS = Number(process.env.ESP_BENCH_ROUNDS ?? (quick ? 1 : 3));
const BAUD = 921600;
const work = mkdtempSync(join(tmpdir(), 'esp-bench-'));
const storeRoot = mkdtempSync('/dev/shm/esp-bench-');
const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');

/** App-like bytes: half fresh random words, half copies of earlier runs (code and tables repeat), header first. */
function appImage(size: number, chipId: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0;
  const rnd = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  for (let i = 0; i < size; ) {
    const n = 8 + (rnd() % 56);
    if (i > 4096 && rnd() % 2 === 0) {
      const from = i - 1 - (rnd() % Math.min(i - 1, 32768));
      for (let k = 0; k < n && i < size; k++) out[i++] = out[from + k] ?? 0;
    } else for (let k = 0; k < n && i < size; k++) out[i++] = rnd() & 0xff;
  }
  out.set([0xe9, 0x04, 0x02, 0x20, 0x00, 0x10, 0x08, 0x40, 0xee, 0, 0, 0, chipId, 0], 0);
  out.fill(0, 14, 24);
  return out;
}

function partitionTable(): Uint8Array {
  const out = new Uint8Array(0xc00).fill(0xff);
  const v = new DataView(out.buffer);
  const parts: Array<[string, number, number, number, number]> = [
    ['nvs', 1, 2, 0x9000, 0x6000],
    ['phy_init', 1, 1, 0xf000, 0x1000],
    ['factory', 0, 0, 0x10000, 0x200000],
  ];
  parts.forEach(([label, type, sub, offset, size], i) => {
    const at = i * 32;
    out.set([0xaa, 0x50, type, sub], at);
    v.setUint32(at + 4, offset, true);
    v.setUint32(at + 8, size, true);
    out.fill(0, at + 12, at + 32);
    out.set(new TextEncoder().encode(label), at + 12);
  });
  return out;
}

const build = join(work, 'build');
mkdirSync(join(build, 'bootloader'), { recursive: true });
mkdirSync(join(build, 'partition_table'), { recursive: true });
const files: Array<[number, string, Uint8Array]> = [
  [0x1000, 'bootloader/bootloader.bin', appImage(26 * 1024, 0, 1)],
  [0x8000, 'partition_table/partition-table.bin', partitionTable()],
  [0x10000, 'app.bin', appImage(APP, 0, 2)],
];
for (const [, name, bytes] of files) writeFileSync(join(build, name), bytes);
writeFileSync(
  join(build, 'flasher_args.json'),
  JSON.stringify({
    flash_settings: { flash_mode: 'dio', flash_size: '4MB', flash_freq: '40m' },
    flash_files: Object.fromEntries(files.map(([a, n]) => [`0x${a.toString(16)}`, n])),
    extra_esptool_args: { after: 'hard_reset', before: 'default_reset', chip: 'esp32' },
  }),
);
const totalBytes = files.reduce((s, [, , b]) => s + b.length, 0);
const compressedBytes = files.reduce((s, [, , b]) => s + deflateSync(b, { level: 9 }).length, 0);

let serialNo = 0;
async function freshSim(): Promise<{ sim: SimInstance; candidate: SerialCandidate; store: string }> {
  const serial = `ESPB${++serialNo}`;
  const store = join(storeRoot, serial);
  const sim = await espSimulatorFactory.create(serial, new Map([['chip', 'esp32'], ['flash', '4M']]), {}, { storeDir: store });
  return { sim, candidate: sim.candidate() as SerialCandidate, store };
}

function checkFlash(store: string): void {
  const flash = readFileSync(join(store, 'flash.bin'));
  for (const [addr, name, bytes] of files) {
    if (md5(flash.subarray(addr, addr + bytes.length)) !== md5(bytes)) throw new Error(`${name} did not land at 0x${addr.toString(16)}`);
  }
}

interface Run {
  tool: string;
  seconds: number;
  cpuSeconds: number;
  load: string;
}

async function timed(tool: string, fn: () => Promise<void>): Promise<Run> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { tool, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, load: load() };
}

async function ours(): Promise<Run> {
  const { sim, candidate, store } = await freshSim();
  const family = createEspFamily({ baud: BAUD });
  const link = family.connect(candidate);
  try {
    const run = await timed('station (ESP family)', async () => {
      const plan = await readEspPlan(build);
      if (!plan) throw new Error('flasher_args.json not read');
      const ctx = silentContext();
      await family.probe(link, candidate, ctx.signal);
      for (const step of plan.steps) {
        if (step.op === 'flash') await family.run(link, { op: 'flash', target: step.target, source: await step.image.open(), options: step.options }, ctx);
        else if (step.op === 'reboot') await family.run(link, step, ctx);
      }
    });
    checkFlash(store);
    return run;
  } finally {
    await link.close();
    await sim.close();
  }
}

async function esptoolJs(): Promise<Run> {
  const { sim, candidate, store } = await freshSim();
  const open = candidate.openStream;
  if (!open) throw new Error('no stream');
  const port = new WebSerialPort(open, { usbVendorId: candidate.vendorId, usbProductId: candidate.productId });
  const transport = new EspTransport(port);
  const quiet = { clean: () => undefined, writeLine: () => undefined, write: () => undefined };
  try {
    const run = await timed('esptool-js 0.7.0', async () => {
      const loader = new ESPLoader({ transport, baudrate: BAUD, romBaudrate: 115200, terminal: quiet });
      await loader.main('default_reset');
      await loader.writeFlash({
        fileArray: files.map(([address, name]) => ({ address, data: new Uint8Array(readFileSync(join(build, name))) })),
        flashMode: 'keep',
        flashFreq: 'keep',
        flashSize: 'keep',
        eraseAll: false,
        compress: true,
        calculateMD5Hash: md5,
      });
      await loader.after('hard_reset');
    });
    checkFlash(store);
    return run;
  } finally {
    await transport.disconnect().catch(() => undefined);
    await sim.close();
  }
}

const runs: Run[] = [];
for (let r = 0; r < ROUNDS; r++) {
  // Alternate which goes first, so drift in the machine's load falls on both.
  const order = r % 2 === 0 ? [esptoolJs, ours] : [ours, esptoolJs];
  for (const fn of order) {
    const run = await fn();
    runs.push(run);
    console.log(`${run.tool.padEnd(22)} ${run.seconds.toFixed(2)} s  cpu ${run.cpuSeconds.toFixed(2)} s  load ${run.load}`);
  }
}
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};
const oursS = median(runs.filter((r) => r.tool.startsWith('station')).map((r) => r.seconds));
const theirsS = median(runs.filter((r) => r.tool.startsWith('esptool')).map((r) => r.seconds));
const wire = compressedBytes / (BAUD / 10);
const summary = {
  imageBytes: totalBytes,
  compressedBytes,
  wireSecondsAt921600: Number(wire.toFixed(2)),
  stationMedianS: Number(oursS.toFixed(2)),
  esptoolJsMedianS: Number(theirsS.toFixed(2)),
  ratio: Number((oursS / theirsS).toFixed(3)),
  load: load(),
};
console.log(`\n${(totalBytes / 1048576).toFixed(2)} MiB image (${(compressedBytes / 1048576).toFixed(2)} MiB compressed, ${wire.toFixed(2)} s on the wire at ${BAUD})`);
console.log(`station ${oursS.toFixed(2)} s vs esptool-js ${theirsS.toFixed(2)} s: ratio ${(oursS / theirsS).toFixed(3)}x (median of ${ROUNDS}; load ${summary.load})`);

// ---------------------------------------------------------------- 8 boards at once, simulators in a child process

const PARALLEL = 8;
async function ptyPairs(n: number): Promise<{ pairs: Array<{ host: string; device: string }>; socats: ChildProcess[] }> {
  const pairs: Array<{ host: string; device: string }> = [];
  const socats: ChildProcess[] = [];
  for (let i = 0; i < n; i++) {
    const host = join(work, `host${i}`);
    const device = join(work, `dev${i}`);
    socats.push(spawn('socat', [`pty,raw,echo=0,link=${host}`, `pty,raw,echo=0,link=${device}`], { stdio: 'ignore' }));
    pairs.push({ host, device });
  }
  const t0 = Date.now();
  while (!pairs.every((p) => existsSync(p.host) && existsSync(p.device))) {
    if (Date.now() - t0 > 5000) throw new Error('socat did not start');
    await new Promise((r) => setTimeout(r, 20));
  }
  return { pairs, socats };
}

let parallel: Record<string, unknown> | undefined;
if (process.env.ESP_BENCH_PARALLEL !== '0') {
  const { pairs, socats } = await ptyPairs(PARALLEL);
  const stores = pairs.map((_, i) => join(storeRoot, `par${i}`));
  const child = spawn(process.execPath, [process.argv[1] ?? '', 'sim', ...pairs.map((p, i) => `${p.device}=${stores[i]}`)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((res, rej) => {
    child.stdout?.on('data', (d: Buffer) => (d.toString().includes('ready') ? res() : undefined));
    child.once('exit', (code) => rej(new Error(`simulators exited ${code}`)));
  });
  const plan = await readEspPlan(build);
  if (!plan) throw new Error('no plan');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const loadBefore = load();
  await Promise.all(
    pairs.map(async (p) => {
      const family = createEspFamily({ baud: BAUD });
      const candidate: SerialCandidate = { kind: 'serial', key: p.host, transport: 'serial', path: p.host, protocol: 'esp' };
      const link = family.connect(candidate);
      const ctx = silentContext();
      await family.probe(link, candidate, ctx.signal);
      for (const step of plan.steps) {
        if (step.op === 'flash') await family.run(link, { op: 'flash', target: step.target, source: await step.image.open(), options: step.options }, ctx);
      }
      await link.close();
    }),
  );
  const wallS = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(cpu0);
  const cpuS = (c.user + c.system) / 1e6;
  for (const st of stores) checkFlash(st);
  child.kill('SIGTERM');
  for (const s of socats) s.kill();
  const aggregate = (PARALLEL * totalBytes) / wallS;
  parallel = {
    boards: PARALLEL,
    wallS: Number(wallS.toFixed(2)),
    imageBytesPerS: Math.round(aggregate),
    wireBytesPerS: Math.round((PARALLEL * compressedBytes) / wallS),
    linkShare: Number(((PARALLEL * compressedBytes) / wallS / (PARALLEL * (BAUD / 10))).toFixed(3)),
    stationCpuS: Number(cpuS.toFixed(2)),
    stationCoreShare: Number((cpuS / wallS).toFixed(3)),
    load: `${loadBefore} → ${load()}`,
  };
  console.log(
    `\n${PARALLEL} boards at once (simulators in a child process on ptys): ${wallS.toFixed(2)} s, ` +
      `${((PARALLEL * compressedBytes) / wallS / 1024).toFixed(0)} KiB/s on the wires = ${(100 * Number(parallel.linkShare)).toFixed(1)} % of the ${PARALLEL} modelled links, ` +
      `station CPU ${cpuS.toFixed(2)} s = ${((100 * cpuS) / wallS).toFixed(1)} % of one core (load ${String(parallel.load)})`,
  );
}

mkdirSync(join('bench', 'results'), { recursive: true });
writeFileSync(join('bench', 'results', 'esp.json'), JSON.stringify({ date: new Date().toISOString(), quick, rounds: ROUNDS, runs, summary, parallel }, null, 2));
rmSync(work, { recursive: true, force: true });
rmSync(storeRoot, { recursive: true, force: true });
process.exit(0);
