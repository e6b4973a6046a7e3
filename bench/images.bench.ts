// Image pipeline throughput and memory against the real tools: sparse expand vs simg2img, raw fill scan vs img2simg,
// xz/zstd/gzip decompression vs `xz -dc`/`zstd -dc`/`gzip -dc`, resparse of a compressed sparse image; peak RSS.
// Full run: a 4 GiB image holding 1 GiB of data (sparse on disk). BENCH_QUICK=1: 256 MiB holding 64 MiB.
import { spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileByteSource } from '../src/images/byte-source.js';
import { decompressed, type Compression } from '../src/images/decompress.js';
import { openImage, resparse, writeSparse } from '../src/images/index.js';

const quick = process.env.BENCH_QUICK === '1';
const MiB = 1 << 20;
const SIZE = quick ? 256 * MiB : 4096 * MiB;
const DATA = SIZE / 4;
const RUN = 4 * MiB;
const COMPRESSED_INPUT = quick ? 64 * MiB : 512 * MiB; // raw bytes behind the xz/zstd/gzip files
const dir = mkdtempSync(join(tmpdir(), 'fs-images-bench-'));
const p = (n: string): string => join(dir, n);

/** Data that compresses like a real filesystem image: half random, half text-like. */
function fillData(buf: Buffer, seed: number): void {
  const half = buf.length >> 1;
  randomFillSync(buf, 0, half);
  const words = ['system', 'vendor', 'lib', 'so', 'bin', 'etc', 'init', 'rc', 'xml', 'apk', 'odex', 'framework'];
  let o = half;
  let s = seed;
  while (o < buf.length) {
    s = (s * 1103515245 + 12345) >>> 0;
    o += buf.write(`${words[s % words.length]}/${s % 977} `, o);
  }
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
  ours_s: number;
  tool: string;
  tool_s: number;
  ratio: number;
  ours_MBps: number;
  peak_rss_MB: number;
}
const rows: Row[] = [];

let peak = 0;
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss);
}, 20);

async function timeOurs(fn: () => Promise<void>): Promise<{ s: number; rss: number }> {
  (globalThis as { gc?: () => void }).gc?.();
  peak = process.memoryUsage().rss;
  const t0 = process.hrtime.bigint();
  await fn();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  peak = Math.max(peak, process.memoryUsage().rss);
  return { s, rss: peak / MiB };
}

function timeTool(cmd: string): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('sh', ['-c', cmd], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} failed`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function row(task: string, ours: { s: number; rss: number }, tool: string, toolS: number, bytes: number): void {
  rows.push({ task, ours_s: +ours.s.toFixed(3), tool, tool_s: +toolS.toFixed(3), ratio: +(toolS / ours.s).toFixed(2),
    ours_MBps: +(bytes / MiB / ours.s).toFixed(0), peak_rss_MB: +ours.rss.toFixed(0) });
}

async function drainChunks(path: string, hash: boolean): Promise<void> {
  const src = await openImage(path, { hash });
  let n = 0;
  for await (const c of src.chunks()) n += c.kind === 'data' ? c.bytes.length : c.length;
  if (n !== src.size) throw new Error('short');
  if (hash) await src.sha256();
}

try {
  console.log(`generating a ${SIZE / MiB} MiB image holding ${DATA / MiB} MiB of data in ${dir} …`);
  makeRaw(p('img.raw'), SIZE, DATA);
  timeTool(`img2simg ${p('img.raw')} ${p('img.simg')}`);
  makeRaw(p('c.raw'), COMPRESSED_INPUT, COMPRESSED_INPUT / 2);
  timeTool(`cd ${dir} && xz -T1 -1 -kf c.raw && zstd -q -kf c.raw && gzip -kf c.raw && zstd -q -kf img.simg`);
  timeTool(`cat ${dir}/* > /dev/null`); // warm the page cache for both sides

  // 1. sparse expand to a null sink
  const toolSparse = timeTool(`simg2img ${p('img.simg')} /dev/null`);
  row('sparse expand (chunks, no hash)', await timeOurs(() => drainChunks(p('img.simg'), false)), 'simg2img → /dev/null', toolSparse, SIZE);
  row('sparse expand + sha256 of 4 GiB', await timeOurs(() => drainChunks(p('img.simg'), true)), 'simg2img → /dev/null', toolSparse, SIZE);

  // 2. raw fill scan: raw → sparse file bytes to a null sink
  const toolScan = timeTool(`img2simg ${p('img.raw')} /dev/null`);
  row('raw fill scan → sparse (no hash)', await timeOurs(async () => {
    const src = await openImage(p('img.raw'), { hash: false });
    for await (const b of writeSparse(src)) void b;
  }), 'img2simg → /dev/null', toolScan, SIZE);

  // 3. decompression of the same files
  const cli: Record<Compression, string> = { xz: 'xz -dc', zstd: 'zstd -dc', gzip: 'gzip -dc', bzip2: 'bzip2 -dc' };
  for (const [kind, ext] of [['xz', 'xz'], ['zstd', 'zst'], ['gzip', 'gz']] as const) {
    const file = p(`c.raw.${ext}`);
    const toolS = timeTool(`${cli[kind]} ${file} > /dev/null`);
    const ours = await timeOurs(async () => {
      const src = decompressed(fileByteSource(file, 0, statSync(file).size, file), kind, file);
      for await (const b of src.stream()) void b;
    });
    row(`${kind} decompress`, ours, `${cli[kind]} → /dev/null`, toolS, COMPRESSED_INPUT);
  }

  // 4. bounded memory on a compressed source: resparse sparse-in-zstd into 256 MiB pieces (one piece buffered)
  // simg2img cannot read a pipe: the tool side decompresses to a tmpfs file first (time included).
  const shm = `/dev/shm/fs-images-bench-${process.pid}.simg`;
  const toolZ = timeTool(`zstd -dcf ${p('img.simg.zst')} -o ${shm} 2>/dev/null && simg2img ${shm} /dev/null; r=$?; rm -f ${shm}; exit $r`);
  row('resparse sparse-in-zstd, 256 MiB pieces', await timeOurs(async () => {
    const src = await openImage(p('img.simg.zst'), { hash: true });
    for await (const piece of resparse(src, 256 * MiB)) for await (const b of piece.bytes()) void b;
  }), 'zstd -d → tmpfs, simg2img → /dev/null', toolZ, SIZE);
} finally {
  clearInterval(sampler);
  rmSync(dir, { recursive: true, force: true });
}

console.table(rows);
console.log('ratio = tool time / our time (≥ 1: we are faster). Sinks: /dev/null for the tools, a loop that drops the bytes for us.');
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/images.json', JSON.stringify({ quick, imageBytes: SIZE, dataBytes: DATA, compressedInput: COMPRESSED_INPUT, cpus: 2, rows }, null, 2));
