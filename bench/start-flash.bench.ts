// Issue 14 §3: how long `start_flash` takes to answer (the `result` frame over the WebSocket) for a 512 MiB raw image
// compressed with bzip2, gzip, xz and zstd, on a station with one simulated fastboot device; beside it, how long the
// old path took (decoding the stream at request time to learn its size), how much was decoded before the answer, and
// how long the job's first stage (the decode into the spool, where there is one) then takes.
// Each format: 3 runs (answer, then the job is cancelled once its first stage is done or at once), median shown.
// The machine is shared: os.loadavg() is printed with every figure. BENCH_QUICK=1: 128 MiB, 1 run.
// Then an uncompressed sparse image of many small chunks (4 KiB of data every 64 KiB, as `img2simg` writes it): the
// answer, and the chunk-table walk alone with blocking reads (the station's) and with one thread-pool read per header.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { createStation } from '../src/core/station.js';
import { decodeCounts, openImage } from '../src/images/index.js';
import { fileByteSource } from '../src/images/byte-source.js';
import { parseSparseHeader } from '../src/images/sparse-format.js';
import { indexSparseFile } from '../src/images/sparse-source.js';
import type { ServerMessage } from '../src/protocol/messages.js';
import { startServer } from '../src/server/server.js';
import { createSimProvider } from '../src/sim/index.js';

const quick = process.env.BENCH_QUICK === '1';
const MiB = 1 << 20;
const SIZE = (quick ? 128 : 512) * MiB;
const RUNS = quick ? 1 : 3;
const FORMATS = [
  { name: 'bzip2', ext: 'bz2', make: (f: string) => `bzip2 -c -9 '${f}' > '${f}.bz2'`, counter: 'bzip2' },
  { name: 'gzip', ext: 'gz', make: (f: string) => `gzip -c -6 '${f}' > '${f}.gz'`, counter: 'gzip' },
  { name: 'xz', ext: 'xz', make: (f: string) => `xz -c -T2 -3 '${f}' > '${f}.xz'`, counter: 'xz' },
  { name: 'zstd', ext: 'zst', make: (f: string) => `zstd -q -c -3 '${f}' > '${f}.zst'`, counter: 'zstd' },
] as const;

const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fs-start-flash-bench-'));
  try {
    // The raw image: 1 MiB of random data every 8 MiB (1/8 data), zeros between; a file sparse on disk.
    const raw = join(dir, 'system.img');
    const fd = openSync(raw, 'w');
    ftruncateSync(fd, SIZE);
    for (let at = 0; at < SIZE; at += 8 * MiB) writeSync(fd, randomBytes(MiB), 0, MiB, at);
    closeSync(fd);
    for (const f of FORMATS) execFileSync('sh', ['-c', f.make(raw)]);

    const dataDir = join(dir, 'data');
    const sims = createSimProvider([`fastboot:BENCH0001?partitions=system:${SIZE * 2}`], { dataDir });
    const station = await createStation({ dataDir, providers: [sims] });
    const token = 'start-flash-bench';
    const server = await startServer(station, { host: '127.0.0.1', port: 0, dataDir, token });
    const ws = new WebSocket(`${server.url}?token=${token}`);
    const inbox: ServerMessage[] = [];
    const waiters: Array<() => void> = [];
    ws.on('message', (b) => {
      inbox.push(JSON.parse((b as Buffer).toString("utf8")) as ServerMessage);
      for (const w of waiters.splice(0)) w();
    });
    await new Promise((r) => ws.once('open', r));
    const next = async (pred: (m: ServerMessage) => boolean, ms = 600_000): Promise<ServerMessage> => {
      const end = Date.now() + ms;
      for (;;) {
        const i = inbox.findIndex(pred);
        if (i >= 0) return inbox.splice(i, 1)[0] as ServerMessage;
        if (Date.now() > end) throw new Error('timed out');
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 200);
        });
      }
    };
    const idle = async (): Promise<void> => {
      while (!station.devices().some((d) => d.state === 'idle')) await new Promise((r) => setTimeout(r, 100));
    };
    /** Send start_flash; the time to its result and the job's id. */
    const start = async (image: string, requestId: string): Promise<{ ms: number; jobId: string }> => {
      inbox.length = 0;
      const t0 = performance.now();
      ws.send(JSON.stringify({ type: 'start_flash', requestId, deviceId: 'BENCH0001', partition: 'system', image }));
      const result = (await next((m) => m.type === 'result' && (m as { requestId?: string }).requestId === requestId)) as { ok: boolean; jobId?: string; error?: unknown };
      const ms = performance.now() - t0;
      if (!result.ok || !result.jobId) throw new Error(`start_flash failed: ${JSON.stringify(result.error)}`);
      return { ms, jobId: result.jobId };
    };
    /** Cancel the job and wait until the device is free again. */
    const cancel = async (jobId: string, requestId: string): Promise<void> => {
      ws.send(JSON.stringify({ type: 'cancel_flash', requestId, jobId }));
      await next((m) => (m.type === 'flash_failed' || m.type === 'flash_completed') && m.jobId === jobId);
      await idle();
    };
    await idle();

    const rows: Array<Record<string, unknown>> = [];
    console.log(`start_flash answer time, ${SIZE / MiB} MiB raw image (1/8 data), ${RUNS} run(s) each, median; load avg (1/5/15 min) beside each`);
    console.log('format | answer ms | decoded before answer | first stage | first stage s | old path (decode at request) s | load');
    for (const f of FORMATS) {
      const image = `${raw}.${f.ext}`;
      const answers: number[] = [];
      const stageSecs: number[] = [];
      let decodedBefore = 0;
      let stage = '';
      for (let run = 0; run < RUNS; run++) {
        const before = decodeCounts()[f.counter].bytes;
        const { ms, jobId } = await start(image, `r${run}`);
        answers.push(ms);
        decodedBefore = decodeCounts()[f.counter].bytes - before;
        const started = (await next((m) => m.type === 'flash_started' && m.jobId === jobId)) as { stage: string; timestamp: number };
        stage = started.stage.startsWith('Writing') ? '(none)' : started.stage;
        if (stage !== '(none)') {
          // The first stage ends when the total becomes known.
          const done = (await next((m) => m.type === 'flash_progress' && m.jobId === jobId && m.totalBytes > 0)) as { timestamp: number };
          stageSecs.push((done.timestamp - started.timestamp) / 1000);
        }
        await cancel(jobId, `c${run}`);
      }
      // The old path: the stream decoded to learn its size before the job existed (openImage without a spool).
      const t1 = performance.now();
      await openImage(image, { hash: false });
      const oldSecs = (performance.now() - t1) / 1000;
      const row = {
        format: f.name, answerMs: median(answers), answersMs: answers, decodedBeforeAnswerBytes: decodedBefore, firstStage: stage,
        firstStageSeconds: stageSecs.length ? median(stageSecs) : 0, oldPathSeconds: oldSecs, loadAvg: loadavg(),
      };
      rows.push(row);
      console.log(`${f.name} | ${row.answerMs.toFixed(1)} | ${(decodedBefore / MiB).toFixed(1)} MiB | ${stage} | ${row.firstStageSeconds.toFixed(2)} | ${oldSecs.toFixed(2)} | ${load()}`);
    }

    // A sparse image of many small chunks.
    const small = join(dir, 'small.img');
    const sfd = openSync(small, 'w');
    ftruncateSync(sfd, SIZE);
    const piece = randomBytes(4096);
    for (let at = 0; at < SIZE; at += 64 * 1024) writeSync(sfd, piece, 0, piece.length, at);
    closeSync(sfd);
    const simg = `${small}.simg`;
    execFileSync('img2simg', [small, simg]);
    const header = parseSparseHeader(readFileSync(simg).subarray(0, 28));
    const answers: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const { ms, jobId } = await start(simg, `s${run}`);
      answers.push(ms);
      await cancel(jobId, `sc${run}`);
    }
    const size = statSync(simg).size;
    const walk = async (blocking: boolean): Promise<number> => {
      const times: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        const src = fileByteSource(simg, 0, size, 'small.img.simg');
        const t = performance.now();
        await indexSparseFile(blocking ? src : { ...src, openSync: undefined }, header, size);
        times.push(performance.now() - t);
      }
      return median(times);
    };
    const blockingMs = await walk(true);
    const poolMs = await walk(false);
    const sparseRow = { format: `sparse, ${header.totalChunks} chunks`, answerMs: median(answers), answersMs: answers, walkBlockingMs: blockingMs, walkThreadPoolMs: poolMs, loadAvg: loadavg() };
    rows.push(sparseRow);
    console.log(`sparse (${header.totalChunks} chunks, ${(size / MiB).toFixed(0)} MiB file) | ${sparseRow.answerMs.toFixed(1)} | chunk table walk: blocking reads ${blockingMs.toFixed(1)} ms, one thread-pool read per header ${poolMs.toFixed(1)} ms | ${load()}`);

    ws.close();
    await server.close();
    await station.close();
    mkdirSync('bench/results', { recursive: true });
    writeFileSync('bench/results/start-flash.json', `${JSON.stringify({ quick, imageBytes: SIZE, runs: RUNS, rows }, null, 2)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
