// Image pipeline throughput and memory against the real tools: sparse expand vs simg2img, raw fill scan vs img2simg,
// xz/zstd/gzip decompression vs `xz -dc`/`zstd -dc`/`gzip -dc`, resparse of a compressed sparse image; peak RSS of
// each, and of flashing (resparse into 256 MiB pieces) a 4 GiB image in every format.
// Tool and ours run alternately (ABAB…), each in a fresh process, on files already in the page cache.
// Full run: a 4 GiB image holding 1 GiB of data (sparse on disk). BENCH_QUICK=1: 256 MiB holding 64 MiB.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileByteSource } from '../src/images/byte-source.js';
import { decompressed, type Compression } from '../src/images/decompress.js';
import { HashedSource } from '../src/images/hashed-source.js';
import { openImage, resparse, writeSparse } from '../src/images/index.js';
import { binaryPool } from './bench-kit.js';

const quick = process.env.BENCH_QUICK === '1';
const MiB = 1 << 20;
const SIZE = quick ? 256 * MiB : 4096 * MiB;
const DATA = SIZE / 4;
const RUN = 4 * MiB;
const COMPRESSED_INPUT = quick ? 32 * MiB : 256 * MiB; // raw bytes behind the xz/zstd/gzip files (xz -6: slow to make)
/** IMAGES_BENCH_DIR=path: make the images there once and keep them (a later run with the same path reuses them). */
const keep = process.env.IMAGES_BENCH_DIR !== undefined && !process.env.IMAGES_BENCH_TASK;
const dir = process.env.IMAGES_BENCH_DIR ?? mkdtempSync(join(tmpdir(), 'fs-images-bench-'));
const p = (n: string): string => join(dir, n);

/** Real binaries compress like a system image (bench-kit binaryPool). */
let pool: Buffer | null = null;

function fillData(buf: Buffer, seed: number): void {
  pool ??= binaryPool();
  const at = (seed * 7 * MiB) % (pool.length - buf.length);
  pool.copy(buf, 0, at, at + buf.length);
  buf.writeUInt32LE(seed, 0); // no two runs alike
}

function makeRaw(path: string, size: number, data: number): void {
  const fd = openSync(path, 'w');
  ftruncateSync(fd, size);
  const buf = Buffer.alloc(RUN);
  const runs = data / RUN;
  const stride = size / runs;
  for (let i = 0; i < runs; i++) {
    fillData(buf, i);
    writeSync(fd, buf, 0, RUN, i * stride);
  }
  closeSync(fd);
}

interface Row {
  task: string;
  tool: string;
  ours_s: number;
  tool_s: number;
  ratio: number;
  ours_cpu_s: number;
  tool_cpu_s: number;
  cpu_ratio: number;
  ours_MBps: number;
  peak_rss_MB: number;
  /** RSS of the child once the bundle is loaded, before the task starts. */
  start_rss_MB: number;
}
interface Timing {
  s: number;
  cpu: number;
}
const rows: Row[] = [];
const memRows: { image: string; image_MiB: number; s: number; cpu_s: number; peak_rss_MB: number; start_rss_MB: number }[] = [];

const RUNS = quick ? 3 : 5;

/** Our side of each row, run in a fresh process so its peak RSS is its own (see `child` below). */
const tasks: Record<string, (dir: string) => Promise<void>> = {
  sparse: (d) => drainChunks(join(d, 'img.simg'), false),
  sparseHash: (d) => drainChunks(join(d, 'img.simg'), true),
  sparseLent: (d) => drainChunks(join(d, 'img.simg'), false, true),
  rawScan: async (d) => {
    const src = await openImage(join(d, 'img.raw'), { hash: false });
    for await (const b of writeSparse(src)) void b;
  },
  xz: (d) => drain(join(d, 'c.raw.xz'), 'xz'),
  zstd: (d) => drain(join(d, 'c.raw.zst'), 'zstd'),
  gzip: (d) => drain(join(d, 'c.raw.gz'), 'gzip'),
  bzip2: (d) => drain(join(d, 'c.raw.bz2'), 'bzip2'),
  resparseZstd: (d) => flashPieces(join(d, 'img.simg.zst')),
};
/** Flash-like streaming of a whole image in each format: openImage (hash on) → 256 MiB sparse pieces → dropped. */
const FLASH_FILES = ['img.raw', 'img.simg', 'img.simg.zst', 'big.raw.xz', 'big.raw.zst', 'big.raw.gz'];
for (const f of FLASH_FILES) tasks[`flash:${f}`] = (d) => flashPieces(join(d, f), true);

async function flashPieces(path: string, hash = false): Promise<void> {
  const src = await openImage(path, { hash });
  for await (const piece of resparse(src, 256 * MiB)) for await (const b of piece.bytes()) void b;
  if (hash) await src.sha256();
}

async function drain(file: string, kind: Compression): Promise<void> {
  const src = decompressed(fileByteSource(file, 0, statSync(file).size, file), kind, file);
  for await (const b of src.stream()) void b;
}

interface Ours extends Timing {
  rss: number;
  base: number;
}

function runOurs(task: string, env: Record<string, string> = {}): Ours {
  const r = spawnSync(process.execPath, [process.argv[1] ?? ''], {
    env: { ...process.env, ...env, IMAGES_BENCH_TASK: task, IMAGES_BENCH_DIR: dir }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`task ${task} failed`);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Ours;
}

const median = (xs: number[]): number => {
  const a = [...xs].sort((x, y) => x - y);
  return a.length % 2 ? (a[(a.length - 1) / 2] ?? 0) : ((a[a.length / 2 - 1] ?? 0) + (a[a.length / 2] ?? 0)) / 2;
};

/**
 * Tool and ours alternately, RUNS times each (same page cache, same load for both); medians of wall and CPU time,
 * our largest RSS peak.
 */
function timePair(task: string, cmd: string, env: Record<string, string> = {}): { ours: Ours; tool: Timing } {
  const ours: Ours[] = [];
  const tool: Timing[] = [];
  for (let i = 0; i < RUNS; i++) {
    if (i % 2 === 0) {
      tool.push(timeToolOnce(cmd));
      ours.push(runOurs(task, env));
    } else {
      ours.push(runOurs(task, env));
      tool.push(timeToolOnce(cmd));
    }
  }
  return {
    ours: { s: median(ours.map((o) => o.s)), cpu: median(ours.map((o) => o.cpu)), rss: Math.max(...ours.map((o) => o.rss)), base: Math.max(...ours.map((o) => o.base)) },
    tool: { s: median(tool.map((o) => o.s)), cpu: median(tool.map((o) => o.cpu)) },
  };
}

async function child(task: string, d: string): Promise<void> {
  const fn = tasks[task];
  if (!fn) throw new Error(`no task ${task}`);
  const base = process.memoryUsage().rss;
  let peak = base;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 10);
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await fn(d);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  console.log(JSON.stringify({ s, cpu: (c.user + c.system) / 1e6, rss: peak / MiB, base: base / MiB }));
}

/** Run a setup command (untimed use). */
function sh(cmd: string): void {
  timeToolOnce(cmd);
}

/** Wall time and CPU time (user + system of the tool's processes, from the shell's `times`). */
function timeToolOnce(cmd: string): Timing {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('bash', ['-c', `${cmd}\ntimes`], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} failed`);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const lines = r.stdout.trim().split('\n');
  const secs = (lines[lines.length - 1] ?? '').split(/\s+/).map((t) => {
    const m = /(\d+)m([\d.]+)s/.exec(t);
    return m ? Number(m[1]) * 60 + Number(m[2]) : 0;
  });
  return { s, cpu: secs.reduce((a, b) => a + b, 0) };
}

function row(task: string, ours: Ours, tool: string, t: Timing, bytes: number): void {
  rows.push({ task, tool, ours_s: +ours.s.toFixed(3), tool_s: +t.s.toFixed(3), ratio: +(t.s / ours.s).toFixed(2),
    ours_cpu_s: +ours.cpu.toFixed(3), tool_cpu_s: +t.cpu.toFixed(3), cpu_ratio: +(t.cpu / ours.cpu).toFixed(2),
    ours_MBps: +(bytes / MiB / ours.s).toFixed(0), peak_rss_MB: +ours.rss.toFixed(0), start_rss_MB: +ours.base.toFixed(0) });
  console.log(JSON.stringify(rows[rows.length - 1]));
}

/** Every chunk of the image, dropped; `lent`: through `lentChunks` (a consumer done with each chunk before the next). */
async function drainChunks(path: string, hash: boolean, lent = false): Promise<void> {
  const src = await openImage(path, { hash });
  if (lent && !(src instanceof HashedSource)) throw new Error('not a HashedSource');
  let n = 0;
  for await (const c of lent && src instanceof HashedSource ? src.lentChunks() : src.chunks()) n += c.kind === 'data' ? c.bytes.length : c.length;
  if (n !== src.size) throw new Error('short');
  if (hash) await src.sha256();
}

async function main(): Promise<void> {
  try {
    if (keep && existsSync(p('big.raw.gz'))) console.log(`reusing the images in ${dir}`);
    else {
      console.log(`generating a ${SIZE / MiB} MiB image holding ${DATA / MiB} MiB of data in ${dir} …`);
      makeRaw(p('img.raw'), SIZE, DATA);
      sh(`img2simg ${p('img.raw')} ${p('img.simg')}`);
      makeRaw(p('c.raw'), COMPRESSED_INPUT, COMPRESSED_INPUT / 2); // half data, half zeros
      sh(`cd ${dir} && xz -T2 -6 -kf c.raw && zstd -q -kf c.raw && gzip -kf c.raw && bzip2 -kf c.raw && zstd -q -kf img.simg`);
      // 4 GiB (full run) images in xz, zstd and gzip for the memory rows: the compressed files concatenated (xz
      // streams, zstd frames and gzip members may follow one another), so no 4 GiB compression is needed.
      const copies = SIZE / COMPRESSED_INPUT;
      for (const ext of ['xz', 'zst', 'gz']) sh(`cd ${dir} && for i in $(seq ${copies}); do cat c.raw.${ext}; done > big.raw.${ext}`);
      pool = null;
    }
    if (process.env.IMAGES_BENCH_GENERATE_ONLY === '1') return; // (with IMAGES_BENCH_DIR: the files, for child tasks)
    sh(`cat ${dir}/* > /dev/null`); // warm the page cache for both sides

    // 1. sparse expand to a null sink
    const sparse = timePair('sparse', `simg2img ${p('img.simg')} /dev/null`);
    row('sparse expand (chunks, no hash)', sparse.ours, 'simg2img → /dev/null', sparse.tool, SIZE);
    const lent = timePair('sparseLent', `simg2img ${p('img.simg')} /dev/null`);
    row('sparse expand (lentChunks, no hash)', lent.ours, 'simg2img → /dev/null', lent.tool, SIZE);
    const reuse = timePair('sparse', `simg2img ${p('img.simg')} /dev/null`, { FLASH_STATION_MALLOC: 'reuse' });
    row('sparse expand, FLASH_STATION_MALLOC=reuse', reuse.ours, 'simg2img → /dev/null', reuse.tool, SIZE);
    const hashed = timePair('sparseHash', `simg2img ${p('img.simg')} /dev/null`);
    row('sparse expand + sha256 of the image', hashed.ours, 'simg2img → /dev/null (no hash)', hashed.tool, SIZE);

    // 2. raw fill scan: raw → sparse file bytes to a null sink
    const scan = timePair('rawScan', `img2simg ${p('img.raw')} /dev/null`);
    row('raw fill scan → sparse (no hash)', scan.ours, 'img2simg → /dev/null', scan.tool, SIZE);

    // 3. decompression of the same files
    const cli: Record<Compression, string> = { xz: 'xz -dc', zstd: 'zstd -dc', gzip: 'gzip -dc', bzip2: 'bzip2 -dc' };
    for (const [kind, ext] of [['xz', 'xz'], ['zstd', 'zst'], ['gzip', 'gz'], ['bzip2', 'bz2']] as const) {
      const d = timePair(kind, `${cli[kind]} ${p(`c.raw.${ext}`)} > /dev/null`);
      row(`${kind} decompress`, d.ours, `${cli[kind]} → /dev/null`, d.tool, COMPRESSED_INPUT);
    }

    // 4. bounded memory on a compressed source: resparse sparse-in-zstd into 256 MiB pieces (one piece kept)
    // simg2img cannot read a pipe: the tool side decompresses to a tmpfs file first (time included).
    const shm = `/dev/shm/fs-images-bench-${process.pid}.simg`;
    const rz = timePair('resparseZstd', `zstd -dcf ${p('img.simg.zst')} -o ${shm} 2>/dev/null && simg2img ${shm} /dev/null; rm -f ${shm}`);
    row('resparse sparse-in-zstd, 256 MiB pieces', rz.ours, 'zstd -d → tmpfs, simg2img → /dev/null', rz.tool, SIZE);

    // 5. memory while flashing a whole image in each format (hash on, 256 MiB pieces): one run each, no tool
    for (const f of FLASH_FILES) {
      const o = runOurs(`flash:${f}`);
      memRows.push({ image: f, image_MiB: SIZE / MiB, s: +o.s.toFixed(2), cpu_s: +o.cpu.toFixed(2), peak_rss_MB: +o.rss.toFixed(0), start_rss_MB: +o.base.toFixed(0) });
      console.log(JSON.stringify(memRows[memRows.length - 1]));
    }
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
  console.table(rows);
  console.log(`ratio = tool time / our time, cpu_ratio = tool CPU / our CPU (≥ 1: we are faster), medians of ${RUNS} alternated runs. ` +
    'Sinks: /dev/null for the tools, a loop that drops the bytes for us. Our CPU includes the libuv pool threads.');
  console.table(memRows);
  console.log('Flashing-like streaming (openImage with hash → resparse 256 MiB pieces → dropped): peak RSS of the whole process.');
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/images.json', JSON.stringify({ quick, imageBytes: SIZE, dataBytes: DATA, compressedInput: COMPRESSED_INPUT, cpus: 2, runs: RUNS, rows, memRows }, null, 2));
}

const childTask = process.env.IMAGES_BENCH_TASK;
if (childTask) await child(childTask, process.env.IMAGES_BENCH_DIR ?? '');
else await main();
