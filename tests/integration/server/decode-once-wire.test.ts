// Decode once, write many, as a client asks for it: one start_flash with deviceIds for three simulated devices over the
// socket reads and decodes the (gzip) image once — one source, split three ways — and every device gets the same bytes.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultImageBackend, type ImageBackend } from '../../../src/core/image-backend.js';
import { createStation, type Station } from '../../../src/core/station.js';
import type { BlockSource } from '../../../src/contracts/source.js';
import type { BatchSummaryMessage, ResultMessage } from '../../../src/protocol/messages.js';
import { startServer, type RunningServer } from '../../../src/server/server.js';
import { createSimProvider, type SimProvider } from '../../../src/sim/index.js';
import { until } from '../../helpers/until.js';
import { connect } from './helpers/harness.js';
import type { FastbootSimDevice } from '../../../src/sim/fastboot/device.js';

const SERIALS = ['ONCE0001', 'ONCE0002', 'ONCE0003'];
let dir: string;
let sims: SimProvider<FastbootSimDevice>;
let station: Station;
let server: RunningServer;
const token = 'decode-once-token';
/** Per image path: sources opened, and chunks() passes over them (each pass is one full decode). */
const opened = new Map<string, { sources: number; passes: number }>();
const shares: number[] = [];

/** The real pipeline, counting what it is asked to do. */
const counting: ImageBackend = {
  async openImage(path, options) {
    const source = await defaultImageBackend.openImage(path, options);
    const c = opened.get(path) ?? { sources: 0, passes: 0 };
    c.sources++;
    opened.set(path, c);
    const chunks = source.chunks.bind(source);
    // Count on the source itself (it may be a class instance): each call starts a decode from the top.
    (source as { chunks: BlockSource['chunks'] }).chunks = (signal) => {
      c.passes++;
      return chunks(signal);
    };
    return source;
  },
  loadPlan: (input) => defaultImageBackend.loadPlan(input),
  shareSource(source, consumers) {
    shares.push(consumers);
    return defaultImageBackend.shareSource(source, consumers);
  },
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fs-once-'));
  sims = createSimProvider<FastbootSimDevice>(SERIALS.map((s) => `fastboot:${s}?speed=32M&partitions=system:32M`), { dataDir: dir });
  station = await createStation({ dataDir: join(dir, 'data'), providers: [sims], images: counting });
  server = await startServer(station, { host: '127.0.0.1', port: 0, dataDir: join(dir, 'data'), token });
});
afterAll(async () => {
  await server.close();
  await station.close();
  await rm(dir, { recursive: true, force: true });
});

describe('start_flash with deviceIds over the socket', () => {
  it('decodes the image once for every device of the batch, and each device holds it', async () => {
    await until(() => station.devices().filter((d) => d.state === 'idle').length === SERIALS.length, 30_000, 'three idle simulators');
    const data = randomBytes(6 << 20);
    const image = join(dir, 'system.img.gz');
    await writeFile(image, gzipSync(data, { level: 1 }));

    const c = await connect(`${server.url}?token=${token}`);
    const r = (await c.request({ type: 'start_flash', deviceIds: SERIALS, partition: 'system', image }, 20_000)) as ResultMessage & { jobIds: string[]; batchId: string };
    expect(r).toMatchObject({ ok: true, status: 'started' });
    expect(r.jobIds).toHaveLength(3);
    const done = await c.next<BatchSummaryMessage>((m) => m.type === 'batch_summary' && m.batchId === r.batchId && m.running === 0 && m.queued === 0, 60_000);
    expect(done).toMatchObject({ total: 3, succeeded: 3, failed: 0 });

    // One source, decoded in one pass, shared by the three jobs.
    expect(shares).toEqual([3]);
    expect(opened.get(image)).toEqual({ sources: 1, passes: 1 });
    for (const serial of SERIALS) {
      const part = await readFile(sims.devices.get(serial)!.partitionPath('system'));
      expect(part.subarray(0, data.length).equals(data), serial).toBe(true);
    }
    c.close();
  }, 90_000);
});
