// Issue 14 §3: start_flash answers at once for every image. An image that must be decoded before it is written
// (a bzip2 raw image; a gzip whose ISIZE cannot be trusted) is decoded by its job, as its first stage, visible and
// cancellable, into DATA_DIR/spool — once for a whole batch, the file deleted when the batch ends.
// No wall-clock bounds: the tests count the work done before the answer and the order of events.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, ftruncateSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { History } from '../../../src/core/history.js';
import { createStation, type Station } from '../../../src/core/station.js';
import { decodeCounts } from '../../../src/images/index.js';
import type { FlashProgressMessage, ServerMessage } from '../../../src/protocol/messages.js';
import { until } from '../../helpers/until.js';
import { FileDeviceProvider } from './file-device.js';

const MiB = 1 << 20;
const BZ2_STAGE = 'Checking the bzip2 stream is whole before writing';
const GZ_STAGE = 'Decompressing to learn the size';

let dir: string;
let bz2Image: string;
let station: Station | undefined;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fs-prepare-'));
  // 512 MiB raw image: 64 KiB of random data every 8 MiB, zeros between (compresses fast, decodes in a while).
  const raw = join(dir, 'big.img');
  const fd = openSync(raw, 'w');
  ftruncateSync(fd, 512 * MiB);
  for (let at = 0; at < 512 * MiB; at += 8 * MiB) writeSync(fd, randomBytes(64 << 10), 0, 64 << 10, at);
  closeSync(fd);
  execFileSync('sh', ['-c', `bzip2 -c '${raw}' > '${raw}.bz2'`]);
  rmSync(raw);
  bz2Image = `${raw}.bz2`;
}, 120_000);
afterEach(async () => {
  await station?.close();
  station = undefined;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function stationWith(devices: Array<{ id: string; partitions: Record<string, number> }>): Promise<{ station: Station; events: ServerMessage[]; dataDir: string; provider: FileDeviceProvider }> {
  const dataDir = mkdtempSync(join(dir, 'data-'));
  const provider = new FileDeviceProvider(devices.map((d) => ({ ...d, dir: dataDir })));
  station = await createStation({ dataDir, providers: [provider], families: [provider.family] });
  const events: ServerMessage[] = [];
  station.subscribe((m) => events.push(m));
  const s = station;
  await until(() => s.devices().filter((d) => d.state === 'idle').length === devices.length, 20_000, 'the devices');
  return { station: s, events, dataDir, provider };
}

const spoolFiles = (dataDir: string): string[] => readdirSync(join(dataDir, 'spool'));
const progressOf = (events: ServerMessage[], jobId: string): FlashProgressMessage[] =>
  events.filter((e): e is FlashProgressMessage => e.type === 'flash_progress' && e.jobId === jobId);

describe('start_flash with an image that must be decoded first', () => {
  it('answers a 512 MiB bzip2 raw image before any of its decode stage: the job exists, then decodes with progress', async () => {
    const { station: s, events, dataDir } = await stationWith([{ id: 'P1', partitions: { system: 1024 * MiB } }]);
    const before = decodeCounts().bzip2;
    const { jobId, status } = await s.startFlash({ deviceId: 'P1', partition: 'system', image: bz2Image });
    // Work done before the answer: the first block decoded to sniff what is inside, nothing more; no spool yet.
    const atAnswer = decodeCounts().bzip2;
    expect(atAnswer.bytes - before.bytes).toBeLessThanOrEqual(2 * MiB);
    expect(atAnswer.wholePasses).toBe(before.wholePasses);
    expect(spoolFiles(dataDir)).toEqual([]);
    expect(events.filter((e) => 'jobId' in e && e.jobId === jobId)).toEqual([]);
    expect(status).toBe('started');
    expect(s.job(jobId)).toMatchObject({ jobId, deviceId: 'P1' });

    // Then the job announces itself and its first stage says what it does, with how far it is.
    await until(() => progressOf(events, jobId).some((e) => /\((\d+) %\)$/.test(e.stage) && !e.stage.endsWith('(0 %)')), 60_000, 'the decode stage to progress');
    const started = events.find((e) => e.type === 'flash_started' && e.jobId === jobId);
    expect(started).toMatchObject({ stage: BZ2_STAGE, totalBytes: 0 });
    const stages = progressOf(events, jobId).map((e) => e.stage);
    expect(stages[0]).toMatch(new RegExp(`^${BZ2_STAGE} \\(\\d+ %\\)$`));
    expect(s.job(jobId)).toMatchObject({ state: 'running', progress: 0, bytesTransferred: 0 });
    expect(decodeCounts().bzip2.bytes).toBeGreaterThan(atAnswer.bytes);
    s.cancel(jobId);
    await until(() => s.job(jobId)?.state === 'cancelled', 20_000, 'the cancel');
  }, 120_000);

  it('cancel during the decode stage stops it and deletes the partial spool file', async () => {
    const { station: s, events, dataDir } = await stationWith([{ id: 'C1', partitions: { system: 1024 * MiB } }]);
    const { jobId } = await s.startFlash({ deviceId: 'C1', partition: 'system', image: bz2Image });
    await until(() => progressOf(events, jobId).some((e) => e.stage.startsWith(BZ2_STAGE)), 60_000, 'the decode stage');
    await until(() => spoolFiles(dataDir).some((n) => n.endsWith('.partial')), 60_000, 'the partial spool file');
    s.cancel(jobId);
    await until(() => s.job(jobId)?.state === 'cancelled', 20_000, 'the cancel');
    await until(() => spoolFiles(dataDir).length === 0, 10_000, 'the spool file to go');
    expect(s.job(jobId)).toMatchObject({ state: 'cancelled', bytesTransferred: 0 });
    expect(events.find((e) => e.type === 'flash_failed' && e.jobId === jobId)).toMatchObject({ error: 'Cancelled', reason: 'cancelled' });
  }, 120_000);

  it('decodes a gzip raw image once for a whole batch, writes every device from the spool, then deletes it', async () => {
    const { station: s, events, dataDir, provider } = await stationWith([
      { id: 'G1', partitions: { boot: 64 * MiB } },
      { id: 'G2', partitions: { boot: 64 * MiB } },
    ]);
    // 6 MiB of random data: more deflate data than can be trusted not to expand past 4 GiB (ISIZE is not used).
    const data = Buffer.concat([randomBytes(6 * MiB), Buffer.alloc(10 * MiB), randomBytes(MiB)]);
    const image = join(dir, 'boot.img.gz');
    writeFileSync(image, gzipSync(data, { level: 1 }));
    const before = decodeCounts().gzip;
    const r = await s.startFlash({ deviceIds: ['G1', 'G2'], partition: 'boot', image });
    expect(decodeCounts().gzip.wholePasses).toBe(before.wholePasses);
    expect(r.jobIds).toHaveLength(2);
    const ids = r.jobIds ?? [];
    await until(() => ids.every((id) => s.job(id)?.state === 'completed'), 60_000, 'both jobs to complete');
    // One whole decode for two devices (the decodes of the head, to sniff what is inside, are not whole).
    expect(decodeCounts().gzip.wholePasses - before.wholePasses).toBe(1);
    for (const id of ['G1', 'G2']) expect(readFileSync(provider.partitionFile(id, 'boot')).subarray(0, data.length).equals(data)).toBe(true);
    for (const id of ids) {
      expect(s.job(id)).toMatchObject({ totalBytes: expect.any(Number), imageBytes: data.length });
      expect(events.find((e) => e.type === 'flash_log' && e.jobId === id && /modulo 4 GiB/.test(e.message))).toBeDefined();
    }
    // At least the job that ran the decode showed it as its stage.
    expect(ids.some((id) => progressOf(events, id).some((e) => e.stage.startsWith(GZ_STAGE)))).toBe(true);
    await until(() => spoolFiles(dataDir).length === 0, 10_000, 'the spool file to go with the batch');
    // History keeps the stage, before the steps.
    const first = ids.find((id) => progressOf(events, id).some((e) => e.stage.startsWith(GZ_STAGE))) as string;
    await s.close();
    station = undefined;
    const h = new History(dataDir);
    try {
      expect(h.stages(first)[0]).toMatchObject({ idx: -1, stage: GZ_STAGE });
    } finally {
      h.close();
    }
  }, 120_000);

  it('a plan image that must be decoded first: the job shows the stage, one decode, the spool goes with the plan', async () => {
    const { station: s, events, dataDir, provider } = await stationWith([{ id: 'M1', partitions: { boot: 64 * MiB, system: 64 * MiB } }]);
    const bundle = mkdtempSync(join(dir, 'bundle-'));
    const data = Buffer.concat([randomBytes(5 * MiB), Buffer.alloc(4 * MiB)]);
    writeFileSync(join(bundle, 'system.img.gz'), gzipSync(data, { level: 1 }));
    writeFileSync(join(bundle, 'flash.json'), JSON.stringify({ name: 'p', steps: [{ op: 'flash', partition: 'system', image: 'system.img.gz' }] }));
    const before = decodeCounts().gzip;
    const { jobId } = await s.startFlash({ deviceId: 'M1', plan: bundle });
    expect(decodeCounts().gzip.passes).toBe(before.passes);
    await until(() => s.job(jobId)?.state === 'completed', 60_000, 'the plan job');
    expect(decodeCounts().gzip.wholePasses - before.wholePasses).toBe(1);
    expect(progressOf(events, jobId).some((e) => e.stage.startsWith(GZ_STAGE))).toBe(true);
    expect(readFileSync(provider.partitionFile('M1', 'system')).subarray(0, data.length).equals(data)).toBe(true);
    await until(() => spoolFiles(dataDir).length === 0, 10_000, 'the spool file to go with the plan');
  }, 120_000);

  it('a station starting afresh empties what a stopped one left in its spool', async () => {
    const dataDir = mkdtempSync(join(dir, 'data-'));
    const provider = new FileDeviceProvider([]);
    station = await createStation({ dataDir, providers: [provider], families: [provider.family] });
    writeFileSync(join(dataDir, 'spool', 'left.raw.partial'), 'x');
    await station.close();
    station = await createStation({ dataDir, providers: [provider], families: [provider.family] });
    expect(existsSync(join(dataDir, 'spool', 'left.raw.partial'))).toBe(false);
  });
});
