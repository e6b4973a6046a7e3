// Block devices: an xz image (1 GiB holding 256 MiB of data) onto loop devices, ours against `bmaptool copy` (with
// and without a .bmap) and etcher-sdk's pipeSourceToDestinations, verification on for all; then one xz image onto
// 4 loop devices at once (decode once, write many) against one device (buffered, direct-I/O and RAM-backed loops); and ours through the desktop app's privilege
// helper (run directly as root) against ours writing directly. Wall time, CPU and peak RSS per run
// (/usr/bin/time), the load average beside every figure. Every run gets a fresh sparse loop device and is checked
// byte for byte against the raw image afterwards (not timed). Runs alternate (A B C A B C …). Needs root.
// BENCH_QUICK=1: 128 MiB holding 32 MiB, one round. BLOCK_BENCH_DIR=path keeps the images between runs.
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, ftruncateSync, linkSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createBlockFamily } from '../src/drivers/block/index.js';
import { createBlockLink } from '../src/transports/block-io.js';
import { HelperPool } from '../src/transports/block-helper.js';
import type { BlockLink } from '../src/contracts/links.js';
import { openImage } from '../src/images/open.js';
import { shareSource } from '../src/images/share.js';
import type { BlockSource, Chunk } from '../src/contracts/source.js';
import { binaryPool, silentContext } from './bench-kit.js';

const quick = process.env.BENCH_QUICK === '1';
const MiB = 1 << 20;
const SIZE = quick ? 128 * MiB : 1024 * MiB;
const DATA = SIZE / 4;
const RUN = 4 * MiB;
const ROUNDS = Number(process.env.BLOCK_BENCH_ROUNDS ?? (quick ? 1 : 3));
const DEVICES = 4;

// ---------------------------------------------------------------- child: our flash, in its own process

/** Count how often the decoder runs and how much data it yields: one pass, however many disks read it. */
function counted(source: BlockSource, stats: { passes: number; dataBytes: number }): BlockSource {
  type Lending = BlockSource & { lentChunks?: (signal?: AbortSignal) => AsyncIterable<Chunk> };
  const src = source as Lending;
  if (typeof src.lentChunks === 'function') src.lentChunks = wrap(src.lentChunks.bind(source), stats);
  source.chunks = wrap(source.chunks.bind(source), stats);
  return source;
}

function wrap(chunks: (signal?: AbortSignal) => AsyncIterable<Chunk>, stats: { passes: number; dataBytes: number }): (signal?: AbortSignal) => AsyncIterable<Chunk> {
  return (signal?: AbortSignal) => {
    stats.passes++;
    const inner = chunks(signal);
    return (async function* () {
      for await (const c of inner) {
        if (c.kind === 'data') stats.dataBytes += c.bytes.length;
        yield c;
      }
    })();
  };
}

/** A link that opens through the privilege helper (as the desktop app's does), run directly since we are root. */
function helperLink(pool: HelperPool, dev: string): BlockLink {
  return createBlockLink(dev, pool, () => Promise.resolve(false));
}

async function child(image: string, devs: string[]): Promise<void> {
  const stats = { passes: 0, dataBytes: 0 };
  const source = counted(await openImage(image), stats);
  const views = devs.length > 1 ? shareSource(source, devs.length) : [source];
  const helper = process.env.BLOCK_BENCH_HELPER;
  const pool = helper ? new HelperPool(helper, { uid: 0 }) : undefined;
  const t0 = performance.now();
  await Promise.all(devs.map(async (dev, i) => {
    const link = pool ? helperLink(pool, dev) : createBlockLink(dev);
    await createBlockFamily().run(link, { op: 'flash', target: { whole: true }, source: views[i] as BlockSource }, silentContext());
    await link.close();
  }));
  process.stdout.write(`${JSON.stringify({ ms: performance.now() - t0, decodePasses: stats.passes, decodedDataBytes: stats.dataBytes })}\n`);
}

// ---------------------------------------------------------------- parent

interface Run {
  variant: string;
  wall_s: number;
  user_s: number;
  sys_s: number;
  rss_mib: number;
  load: number;
  exact: boolean;
  extra?: Record<string, number>;
}

const root = resolve(new URL('.', import.meta.url).pathname, '..', '..', '..');
const child_ = process.env.BLOCK_BENCH_TASK === 'child';
const dir = child_ ? '' : (process.env.BLOCK_BENCH_DIR ?? mkdtempSync(join(tmpdir(), 'fs-block-bench-')));
if (!child_) mkdirSync(dir, { recursive: true });
const p = (n: string): string => join(dir, n);

function makeImages(): void {
  if (existsSync(p('os.img.xz')) && existsSync(p('nobmap/os.img.xz')) && statSync(p('os.img')).size === SIZE) return;
  console.log(`making a ${SIZE / MiB} MiB image holding ${DATA / MiB} MiB of data, its .bmap and xz (once) in ${dir}`);
  const pool = binaryPool();
  const fd = openSync(p('os.img'), 'w');
  ftruncateSync(fd, SIZE);
  const runs = DATA / RUN;
  for (let i = 0; i < runs; i++) {
    const at = (i * 7 * MiB) % (pool.length - RUN);
    const buf = Buffer.from(pool.subarray(at, at + RUN));
    buf.writeUInt32LE(i, 0);
    writeSync(fd, buf, 0, RUN, i * (SIZE / runs));
  }
  closeSync(fd);
  execFileSync('bmaptool', ['create', '-o', p('os.img.bmap'), p('os.img')], { stdio: 'ignore' });
  execFileSync('xz', ['-T2', '-k', '-f', p('os.img')]);
  mkdirSync(p('nobmap'), { recursive: true });
  rmSync(p('nobmap/os.img.xz'), { force: true });
  linkSync(p('os.img.xz'), p('nobmap/os.img.xz')); // the same file where no .bmap lies beside it
}

/** Backing files of the loop devices: beside the images (the host's disk), or in RAM (`shm`). */
const shm = child_ ? '' : mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'fs-block-bench-'));

/**
 * `direct`: the loop reads and writes its backing file with direct I/O, as a card does (a write is done when it is on
 * the medium). A buffered loop keeps every write dirty in the host's page cache (24 GiB here: nothing is flushed for
 * 30 s) and flushes it all in the final fsync, one loop file after another, so four buffered loops measure the host's
 * one disk. (etcher-sdk writes wrong bytes to a direct-I/O loop here, caught by its own verify, so the anchors run on
 * buffered loops.)
 */
function freshLoop(name: string, inRam: boolean, direct = false): { dev: string; done(): void } {
  const file = inRam ? join(shm, `${name}.disk`) : p(`${name}.disk`);
  rmSync(file, { force: true });
  writeFileSync(file, '');
  execFileSync('truncate', ['-s', String(SIZE + 16 * MiB), file]);
  const dev = execFileSync('losetup', ['-f', '--show', ...(direct ? ['--direct-io=on'] : []), file], { encoding: 'utf8' }).trim();
  return {
    dev,
    done() {
      execFileSync('losetup', ['-d', dev]);
      rmSync(file, { force: true });
    },
  };
}

function timed(cmd: string[], env: Record<string, string> = {}): { wall: number; user: number; sys: number; rssKiB: number; stdout: string } {
  const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %U %S %M', ...cmd], { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 * MiB });
  const m = /TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`${cmd.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return { wall: Number(m[1]), user: Number(m[2]), sys: Number(m[3]), rssKiB: Number(m[4]), stdout: r.stdout };
}

/** The privilege helper, built once with cc beside the images. */
function helperBin(): string {
  const bin = p('flash-station-block-helper');
  if (!existsSync(bin)) execFileSync('cc', ['-O2', '-o', bin, join(root, 'src/drivers/block/helper/block-helper.c')]);
  return bin;
}

function exact(dev: string): boolean {
  return spawnSync('cmp', ['-n', String(SIZE), p('os.img'), dev], { stdio: 'ignore' }).status === 0;
}

const self = process.argv[1] ?? '';
const variants: Record<string, (devs: string[]) => string[]> = {
  'ours (bmap)': (d) => [process.execPath, self, p('os.img.xz'), ...d],
  'bmaptool (bmap)': (d) => ['bmaptool', '-q', 'copy', '--bmap', p('os.img.bmap'), p('os.img.xz'), d[0] ?? ''],
  'ours (no bmap)': (d) => [process.execPath, self, p('nobmap/os.img.xz'), ...d],
  'bmaptool (no bmap)': (d) => ['bmaptool', '-q', 'copy', '--nobmap', p('nobmap/os.img.xz'), d[0] ?? ''],
  'etcher-sdk': (d) => [process.execPath, join(root, 'bench', 'block-etcher-entry.mjs'), p('nobmap/os.img.xz'), d[0] ?? ''],
  [`ours x${DEVICES} (no bmap)`]: (d) => [process.execPath, self, p('nobmap/os.img.xz'), ...d],
  // (with the .bmap: tmpfs has no zero-range fallocate, so BLKZEROOUT on a RAM-backed loop writes zero pages)
  'ours x1 (no bmap, direct)': (d) => [process.execPath, self, p('nobmap/os.img.xz'), ...d],
  [`ours x${DEVICES} (no bmap, direct)`]: (d) => [process.execPath, self, p('nobmap/os.img.xz'), ...d],
  'ours x1 (bmap, RAM)': (d) => [process.execPath, self, p('os.img.xz'), ...d],
  // Through the desktop app's privilege helper (src/drivers/block/helper), run directly as root: the pipe's cost.
  'ours via helper (bmap)': (d) => [process.execPath, self, p('os.img.xz'), ...d],
  [`ours x${DEVICES} (bmap, RAM)`]: (d) => [process.execPath, self, p('os.img.xz'), ...d],
};

function runOne(variant: string): Run {
  const n = variant.includes(`x${DEVICES}`) ? DEVICES : 1;
  const loops = Array.from({ length: n }, (_, i) => freshLoop(`d${i}`, variant.includes('RAM'), variant.includes('direct')));
  try {
    const devs = loops.map((l) => l.dev);
    const build = variants[variant];
    if (!build) throw new Error(variant);
    const before = loadavg()[0] ?? 0;
    const t = timed(build(devs), { BLOCK_BENCH_TASK: 'child', ...(variant.includes('helper') ? { BLOCK_BENCH_HELPER: helperBin() } : {}) });
    const load = ((loadavg()[0] ?? 0) + before) / 2;
    const line = t.stdout.trim().split('\n').pop() ?? '';
    const extra = line.startsWith('{') && variant.startsWith('ours') ? (JSON.parse(line) as Record<string, number>) : undefined;
    return { variant, wall_s: t.wall, user_s: t.user, sys_s: t.sys, rss_mib: t.rssKiB / 1024, load, exact: devs.every(exact), ...(extra ? { extra } : {}) };
  } finally {
    for (const l of loops) l.done();
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? ((s[(s.length - 1) >> 1] ?? 0) + (s[s.length >> 1] ?? 0)) / 2 : Number.NaN;
};

async function parent(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the block bench needs root (loop devices)');
  makeImages();
  const runs: Run[] = [];
  const only = process.env.BLOCK_BENCH_ONLY ? new RegExp(process.env.BLOCK_BENCH_ONLY) : null; // e.g. 'RAM'
  const chosen = Object.keys(variants).filter((v) => !only || only.test(v));
  for (let r = 0; r < ROUNDS; r++) {
    for (const v of chosen) {
      const run = runOne(v);
      runs.push(run);
      console.log(`round ${r + 1} ${v.padEnd(26)} ${run.wall_s.toFixed(2)} s  cpu ${(run.user_s + run.sys_s).toFixed(2)} s  ` +
        `rss ${run.rss_mib.toFixed(0)} MiB  load ${run.load.toFixed(2)}  ${run.exact ? 'exact' : 'NOT EXACT'}` +
        (run.extra ? `  decode passes ${run.extra.decodePasses}, decoded data ${((run.extra.decodedDataBytes ?? 0) / MiB).toFixed(0)} MiB` : ''));
    }
  }
  const med = (v: string, k: 'wall_s' | 'rss_mib' | 'load'): number => median(runs.filter((x) => x.variant === v).map((x) => x[k]));
  const summary = chosen.map((v) => ({ variant: v, wall_s: med(v, 'wall_s'), rss_mib: Math.max(...runs.filter((x) => x.variant === v).map((x) => x.rss_mib)), load: med(v, 'load') }));
  const ratios = {
    'ours/bmaptool (bmap)': med('ours (bmap)', 'wall_s') / med('bmaptool (bmap)', 'wall_s'),
    'ours/bmaptool (no bmap)': med('ours (no bmap)', 'wall_s') / med('bmaptool (no bmap)', 'wall_s'),
    'ours (bmap)/etcher-sdk': med('ours (bmap)', 'wall_s') / med('etcher-sdk', 'wall_s'),
    'ours (no bmap)/etcher-sdk': med('ours (no bmap)', 'wall_s') / med('etcher-sdk', 'wall_s'),
    [`ours x${DEVICES}/ours x1 (no bmap)`]: med(`ours x${DEVICES} (no bmap)`, 'wall_s') / med('ours (no bmap)', 'wall_s'),
    [`ours x${DEVICES}/ours x1 (no bmap, direct)`]: med(`ours x${DEVICES} (no bmap, direct)`, 'wall_s') / med('ours x1 (no bmap, direct)', 'wall_s'),
    [`ours x${DEVICES}/ours x1 (bmap, RAM)`]: med(`ours x${DEVICES} (bmap, RAM)`, 'wall_s') / med('ours x1 (bmap, RAM)', 'wall_s'),
    'ours via helper/ours direct (bmap)': med('ours via helper (bmap)', 'wall_s') / med('ours (bmap)', 'wall_s'),
  };
  console.log('\nmedians (peak RSS: the largest)');
  for (const s of summary) console.log(`  ${s.variant.padEnd(22)} ${s.wall_s.toFixed(2)} s  ${s.rss_mib.toFixed(0)} MiB  load ${s.load.toFixed(2)}`);
  console.log('ratios (goal: ≤ 1.0 vs bmaptool, ≤ 0.8 vs etcher-sdk, ≤ 1.3 for 4 devices)');
  for (const [k, v] of Object.entries(ratios)) console.log(`  ${k.padEnd(30)} ${v.toFixed(2)}`);
  const out = join(root, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'block.json'), `${JSON.stringify({ date: new Date().toISOString(), size: SIZE, data: DATA, rounds: ROUNDS, runs, summary, ratios }, null, 2)}\n`);
  rmSync(shm, { recursive: true, force: true });
  if (!process.env.BLOCK_BENCH_DIR) rmSync(dir, { recursive: true, force: true });
}

if (child_) {
  const [image, ...devs] = process.argv.slice(2);
  if (!image || devs.length === 0) throw new Error('child: IMAGE DEV…');
  await child(image, devs);
} else {
  await parent();
}
