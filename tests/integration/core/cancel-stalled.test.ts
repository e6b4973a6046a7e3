// A cancel is prompt even when the device has stopped answering (issue 15, defect 6): the job ends within 2 s,
// closing the device's connection if the driver cannot stop by itself, and says what state the device was left in.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchStation, type LaunchedStation } from '../../../src/server/launch.js';
import type { ServerMessage } from '../../../src/protocol/messages.js';
import { until } from '../../helpers/until.js';

let dir: string;
let s: LaunchedStation;
const events: ServerMessage[] = [];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fs-cancel-'));
  s = await launchStation({
    host: '127.0.0.1', port: 0, dataDir: join(dir, 'data'), usb: false, serial: false,
    sims: ['fastboot:STALL1?stall-after=1M&partitions=boot:64M', 'fastboot:STALL2?partitions=boot:64M'],
  });
  s.station.subscribe((m) => events.push(m));
});
afterAll(async () => {
  await s.close();
  await rm(dir, { recursive: true, force: true });
});

describe('cancel on a device that stopped answering', () => {
  it('ends the job within 2 s, says the connection was closed, and the device takes the next job', async () => {
    const image = join(dir, 'boot.img');
    await writeFile(image, randomBytes(8 << 20));
    const { jobId } = await s.station.startFlash({ deviceId: 'STALL1', partition: 'boot', image });
    // The device swallows the first MiB, then goes silent.
    await until(() => (s.station.job(jobId)?.bytesTransferred ?? 0) >= 1 << 20, 15_000);
    await new Promise((r) => setTimeout(r, 300));
    const asked = Date.now();
    s.station.cancel(jobId);
    await until(() => events.some((m) => m.type === 'flash_failed' && m.jobId === jobId), 5_000);
    const tookMs = Date.now() - asked;
    expect(tookMs).toBeLessThan(2_500);
    const failed = events.find((m) => m.type === 'flash_failed' && m.jobId === jobId);
    expect(failed).toMatchObject({ error: 'Cancelled', reason: 'cancelled' });
    expect(s.station.job(jobId)?.error).toMatch(/did not stop within 2 s, so its connection was closed/);
    // The device is free for the next job at once, not held by the stalled driver.
    expect(s.station.devices().find((d) => d.id === 'STALL1')?.state).not.toBe('busy');
    const next = await s.station.startFlash({ deviceId: 'STALL1', partition: 'boot', image });
    expect(next.status).toBe('started');
    s.station.cancel(next.jobId);
  });

  it('a driver that stops by itself keeps its own words: a plain cancel is not forced', async () => {
    const image = join(dir, 'ok.img');
    await writeFile(image, randomBytes(32 << 20));
    const { jobId } = await s.station.startFlash({ deviceId: 'STALL2', partition: 'boot', image });
    await until(() => (s.station.job(jobId)?.bytesTransferred ?? 0) > 0, 15_000);
    s.station.cancel(jobId);
    await until(() => events.some((m) => m.type === 'flash_failed' && m.jobId === jobId), 5_000);
    expect(s.station.job(jobId)?.error ?? '').not.toMatch(/connection was closed/);
  });
});
