// The typed client over the real station core and simulated fastboot devices: its state follows a queued job's place,
// a batch's summary and each job's final stage as the station records them, and getJobLogs reads the kept log lines.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StationClient, type WebSocketConstructor } from '../../../src/client/index.js';
import { launchStation, type LaunchedStation } from '../../../src/server/launch.js';
import { until } from '../../helpers/until.js';
import { makeImage } from '../server/helpers/harness.js';

let dir: string;
let s: LaunchedStation;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fs-client-real-'));
  s = await launchStation({
    host: '127.0.0.1', port: 0, dataDir: join(dir, 'data'), usb: false, serial: false,
    sims: ['fastboot:CLIENT01?speed=4M&partitions=boot:16M', 'fastboot:CLIENT02?speed=64M&partitions=boot:16M'],
  });
});
afterAll(async () => {
  await s.close();
  await rm(dir, { recursive: true, force: true });
});

describe('StationClient over the real station', () => {
  it('tracks queue places, batch summaries and final stages, and reads job logs', async () => {
    const c = new StationClient({ url: s.url, token: s.token, WebSocket: WebSocket as unknown as WebSocketConstructor });
    await c.connect();
    try {
      await until(() => c.devices.filter((d) => d.state === 'idle').length === 2, 30_000, 'two idle simulators');
      // At 4 MB/s the batch's job on CLIENT01 takes ~1 s and the queued one ~2 s: time to see each state on a busy machine.
      const image = await makeImage(dir, 'boot.img', 4 << 20);
      const big = await makeImage(dir, 'big.img', 8 << 20);
      // A batch over both devices, then a second job for the slow one, which must queue behind the batch's job.
      const batch = await c.startFlash({ deviceIds: ['CLIENT01', 'CLIENT02'], partition: 'boot', image });
      expect(batch.batchId).toEqual(expect.any(String));
      const queued = await c.startFlash({ deviceId: 'CLIENT01', partition: 'boot', image: big });
      expect(queued.status).toBe('queued');
      await until(() => c.state.jobs.get(queued.jobId)?.queuePosition === 1, 10_000, 'the queued job\'s place');

      await until(() => c.state.batches.get(batch.batchId!)?.succeeded === 2, 60_000, 'the batch to succeed');
      expect(c.state.batches.get(batch.batchId!)).toMatchObject({ total: 2, failed: 0, running: 0, queued: 0 });
      for (const id of batch.jobIds) expect(c.state.jobs.get(id)).toMatchObject({ state: 'completed', stage: 'Completed' });
      await until(() => c.state.jobs.get(queued.jobId)?.state === 'running', 30_000, 'the queued job to start');
      expect(c.state.jobs.get(queued.jobId)?.queuePosition).toBeUndefined();
      await c.cancel(queued.jobId);
      await until(() => c.state.jobs.get(queued.jobId)?.state === 'cancelled', 30_000, 'the cancel');
      expect(c.state.jobs.get(queued.jobId)?.stage).toBe('Cancelled');
      // The client's picture matches the station's own record.
      const fresh = await c.getSnapshot();
      expect(fresh.jobs.find((j) => j.jobId === queued.jobId)?.stage).toBe('Cancelled');

      const logs = await c.getJobLogs([...batch.jobIds, 'no-such-job'], 50);
      for (const id of batch.jobIds) {
        expect(logs[id]?.length, id).toBeGreaterThan(0);
        expect(logs[id]!.length).toBeLessThanOrEqual(50);
        expect(logs[id]![0]).toMatchObject({ timestamp: expect.any(Number), level: expect.any(String), message: expect.any(String) });
      }
      expect(logs['no-such-job']).toBeUndefined();
    } finally {
      c.close();
    }
  }, 120_000);
});
