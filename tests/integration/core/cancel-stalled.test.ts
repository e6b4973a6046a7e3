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

describe('cancel on a stalled device, family by family', () => {
  // Each device stops answering partway (a download that stops being read, or a command never answered). A cancel ends
  // the job within 2 s with the device's state said, and the same device then takes and completes the next job.
  let f: LaunchedStation;
  const seen: ServerMessage[] = [];
  beforeAll(async () => {
    f = await launchStation({
      host: '127.0.0.1', port: 0, dataDir: join(dir, 'data-families'), usb: false, serial: false,
      sims: [
        'fastboot:STALLCMD?stall-command=flash&partitions=boot:64M',
        'esp:ESPSTALL?chip=esp32&flash=4M&stall-after=16K',
        'stm32:STMSTALL?flash=128K&stall-after=8K',
        // A DfuSe device whose sector erase keeps it busy (bwPollTimeout) for 4 s: the cancel must not sit it out.
        'dfu:DFUSTALL?dfuse=1&flash=512K&erase-ms-per-kib=250',
      ],
    });
    f.station.subscribe((m) => seen.push(m));
    await until(() => f.station.devices().filter((d) => d.state === 'idle').length === 4, 30_000, 'four idle devices');
  }, 60_000);
  afterAll(async () => {
    await f.close();
  });

  const cases: Array<{ id: string; target: { partition: string } | { address: string }; size: number; stalled: (jobId: string) => boolean }> = [
    // The whole image is downloaded; `flash:boot` is never answered.
    { id: 'STALLCMD', target: { partition: 'boot' }, size: 1 << 20, stalled: (j) => f.station.job(j)?.bytesTransferred === 1 << 20 },
    // The board stops answering after its first 16 KiB block; its block timeout (3 s) is not reached before the cancel.
    { id: 'ESPSTALL', target: { address: '0x10000' }, size: 64 << 10, stalled: (j) => (f.station.job(j)?.bytesTransferred ?? 0) >= 8 << 10 },
    { id: 'STMSTALL', target: { address: '0x08000000' }, size: 32 << 10, stalled: (j) => (f.station.job(j)?.bytesTransferred ?? 0) >= 8 << 10 },
    // The first sector's erase is under way (16 KiB at 250 ms/KiB: busy for 4 s); the next job waits out only that.
    { id: 'DFUSTALL', target: { address: '0x08000000' }, size: 32 << 10, stalled: (j) => f.station.job(j)?.state === 'running' },
  ];
  for (const c of cases) {
    it(`${c.id}: ends within 2 s, says what the device was left in, and the device completes the next job`, async () => {
      const image = join(dir, `${c.id}.bin`);
      await writeFile(image, randomBytes(c.size));
      const { jobId } = await f.station.startFlash({ deviceId: c.id, image, ...c.target });
      await until(() => c.stalled(jobId), 30_000, `${c.id} to stall`);
      await new Promise((r) => setTimeout(r, 500));
      // Still stuck in the stall: not ended, and no timeout or retry of its own yet.
      expect(f.station.job(jobId)?.state).toBe('running');
      expect(seen.filter((m) => m.type === 'flash_log' && m.jobId === jobId && m.level !== 'info')).toEqual([]);
      const asked = Date.now();
      f.station.cancel(jobId);
      await until(() => seen.some((m) => m.type === 'flash_failed' && m.jobId === jobId), 10_000, `${c.id} to end`);
      expect(Date.now() - asked).toBeLessThan(2_500);
      expect(seen.find((m) => m.type === 'flash_failed' && m.jobId === jobId)).toMatchObject({ reason: 'cancelled' });
      // Not a bare "Cancelled": the job says what the device holds or that its connection was closed mid-write.
      expect(f.station.job(jobId)?.error ?? '').toMatch(/connection was closed|part of the image|holds|left/);
      const small = join(dir, `${c.id}-next.bin`);
      await writeFile(small, randomBytes(4096));
      const next = await f.station.startFlash({ deviceId: c.id, image: small, ...c.target });
      await until(() => ['completed', 'failed', 'cancelled'].includes(f.station.job(next.jobId)?.state ?? ''), 60_000, `${c.id} next job`);
      expect(f.station.job(next.jobId)?.error ?? 'completed').toBe('completed');
    }, 120_000);
  }
});
