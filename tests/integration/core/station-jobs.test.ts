// A real Station with file devices: job lifecycle, events as contract §2.1/§2.2, validation before a job exists.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FlashError } from '../../../src/core/errors.js';
import type { StartFlashRequest } from '../../../src/core/station-api.js';
import { until } from '../../helpers/until.js';
import { harness, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('Station jobs', () => {
  it('flashes an image into the partition with events as the contract says', async () => {
    h = await harness([]);
    await h.provider.plug(h.device('DEV1', { speed: 8 << 20 }));
    const img = h.image('boot.img', 6 << 20);
    const r = await h.station.startFlash({ deviceId: 'DEV1', partition: 'boot', image: img.path });
    expect(r.status).toBe('started');
    await h.waitFor('flash_completed', (m) => m.jobId === r.jobId);
    const started = h.of('flash_started', r.jobId);
    expect(started).toHaveLength(1);
    expect(started[0]?.totalBytes).toBe(6 << 20);
    expect(started[0]?.stage).toBe('Writing boot partition (1/1)');
    const progress = h.of('flash_progress', r.jobId);
    expect(progress.length).toBeGreaterThan(3);
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.progress).toBeGreaterThanOrEqual(progress[i - 1]!.progress);
    // Contract §2.1: at most 10 a second (every window ending at a frame); the last one needs no wait of its own.
    const times = progress.map((p) => p.timestamp);
    for (const end of times) expect(times.filter((t) => t > end - 1000 && t <= end).length).toBeLessThanOrEqual(10);
    const last = progress[progress.length - 1]!;
    expect(last.progress).toBe(100);
    expect(last.bytesTransferred).toBe(6 << 20);
    expect(progress.slice(0, -1).every((p) => p.progress < 100)).toBe(true);
    const mid = progress[Math.floor(progress.length / 2)]!;
    expect(mid.transferSpeed).toBeGreaterThan(1 << 20); // the device models 8 MiB/s; a busy machine may give less
    expect(mid.transferSpeed).toBeLessThan(12 << 20);
    // Order: started, progress…, completed.
    const kinds = h.events.filter((e) => (e as { jobId?: string }).jobId === r.jobId).map((e) => e.type);
    expect(kinds[0]).toBe('flash_started');
    expect(kinds[kinds.length - 1]).toBe('flash_completed');
    // The bytes really are in the partition.
    const part = readFileSync(h.provider.partitionFile('DEV1', 'boot'));
    expect(part.subarray(0, img.data.length).equals(img.data)).toBe(true);
    expect(h.station.job(r.jobId)?.state).toBe('completed');
    // The record hash follows the completion (it is not on the job's critical path).
    await until(() => h!.station.job(r.jobId)?.sha256 !== undefined, 30_000, 'the image hash');
    expect(h.station.job(r.jobId)?.sha256).toBe(img.sha256);
    expect(h.station.history({ deviceId: 'DEV1' })[0]?.sha256).toBe(img.sha256);
    const hist = h.station.history({ deviceId: 'DEV1' });
    expect(hist[0]?.state).toBe('completed');
    const detail = h.station.jobDetail(r.jobId)!;
    expect(detail.stages[0]?.bytes).toBe(6 << 20);
    expect(detail.imagePath).toBe(img.path);
    expect(detail.peakSpeed).toBeGreaterThan(0);
    await h.waitFor('device_updated', (m) => m.device.state === 'idle' && m.device.info.station === 'done');
  });

  it('refuses bad requests before a job exists, with the codes of the contract', async () => {
    h = await harness(['DEV1']);
    const img = h.image('small.img', 1 << 20);
    const big = h.image('big.img', 17 << 20);
    mkdirSync(join(h.dir, 'adir'));
    const code = async (req: StartFlashRequest): Promise<string> => {
      try {
        await h!.station.startFlash(req);
        return 'accepted';
      } catch (e) {
        expect(e).toBeInstanceOf(FlashError);
        expect((e as FlashError).message.length).toBeGreaterThan(10);
        return (e as FlashError).code;
      }
    };
    expect(await code({ deviceId: 'NOPE', partition: 'boot', image: img.path })).toBe('device_not_found');
    expect(await code({ deviceId: 'DEV1', partition: 'boot', image: join(h.dir, 'missing.img') })).toBe('image_not_found');
    expect(await code({ deviceId: 'DEV1', partition: 'boot', image: join(h.dir, 'adir') })).toBe('image_unreadable');
    expect(await code({ deviceId: 'DEV1', partition: 'nosuch', image: img.path })).toBe('partition_not_found');
    expect(await code({ deviceId: 'DEV1', partition: 'boot', image: big.path })).toBe('image_too_large');
    expect(await code({ deviceId: 'DEV1', partition: 'boot', image: 'relative.img' })).toBe('bad_request');
    expect(await code({ deviceId: 'DEV1', partition: 'boot' })).toBe('bad_request');
    expect(await code({ deviceId: 'DEV1', image: img.path })).toBe('bad_request');
    expect(await code({ partition: 'boot', image: img.path })).toBe('bad_request');
    expect(big.data.length).toBeGreaterThan(16 << 20);
    expect(h.station.jobs()).toHaveLength(0);
    expect(h.station.history({})).toHaveLength(0);
  });

  it('queues a second job for a busy device and runs it after the first', async () => {
    h = await harness([]);
    await h.provider.plug(h.device('DEV1', { speed: 16 << 20 }));
    const img = h.image('a.img', 4 << 20);
    const a = await h.station.startFlash({ deviceId: 'DEV1', partition: 'boot', image: img.path });
    const b = await h.station.startFlash({ deviceId: 'DEV1', partition: 'system', image: img.path });
    expect(a.status).toBe('started');
    expect(b.status).toBe('queued');
    expect(h.of('flash_queued', b.jobId)[0]?.position).toBe(1);
    expect(h.station.job(b.jobId)?.state).toBe('queued');
    await h.waitFor('flash_completed', (m) => m.jobId === b.jobId);
    const aDone = h.of('flash_completed', a.jobId)[0]!;
    const bStart = h.of('flash_started', b.jobId)[0]!;
    expect(bStart.timestamp).toBeGreaterThanOrEqual(aDone.timestamp);
  });

  it('pauses at a safe point (bytes stand still) and resumes to completion', async () => {
    h = await harness([]);
    await h.provider.plug(h.device('DEV1', { speed: 4 << 20 }));
    const img = h.image('p.img', 8 << 20);
    const r = await h.station.startFlash({ deviceId: 'DEV1', partition: 'boot', image: img.path });
    const before = await h.waitFor('flash_progress', (m) => m.jobId === r.jobId && m.progress > 10);
    const paused = h.station.pause(r.jobId);
    expect(paused.state).toBe('paused');
    expect(h.of('flash_paused', r.jobId)).toHaveLength(1);
    // The transfer in flight lands; then the driver waits at the gate (however long that takes on a busy machine).
    await until(() => h!.provider.parked.has('DEV1'), 30_000, 'the driver to stop at the pause gate');
    const at = h.station.job(r.jobId)!.bytesTransferred;
    await new Promise((res) => setTimeout(res, 1000));
    expect(h.station.job(r.jobId)!.bytesTransferred).toBe(at);
    expect(h.station.job(r.jobId)!.transferSpeed).toBe(0);
    h.station.resume(r.jobId);
    expect(h.of('flash_resumed', r.jobId)).toHaveLength(1);
    // After resuming, the speed is not dragged down by the pause.
    const p = await h.waitFor('flash_progress', (m) => m.jobId === r.jobId && m.bytesTransferred > at + (1 << 20));
    // (Counting the 1.3 s pause in a 3 s window would cut the speed by about 40 %.)
    expect(p.transferSpeed).toBeGreaterThan(before.transferSpeed * 0.75);
    await h.waitFor('flash_completed', (m) => m.jobId === r.jobId);
    expect(() => h!.station.pause(r.jobId)).toThrow(/completed|only a running/);
  });

  it('cancels with flash_failed "Cancelled" and reason cancelled, and records it', async () => {
    h = await harness([]);
    await h.provider.plug(h.device('DEV1', { speed: 2 << 20 }));
    const img = h.image('c.img', 8 << 20);
    const r = await h.station.startFlash({ deviceId: 'DEV1', partition: 'boot', image: img.path });
    await h.waitFor('flash_progress', (m) => m.jobId === r.jobId);
    h.station.cancel(r.jobId);
    const f = await h.waitFor('flash_failed', (m) => m.jobId === r.jobId);
    expect(f.error).toBe('Cancelled');
    expect(f.reason).toBe('cancelled');
    expect(h.station.job(r.jobId)?.state).toBe('cancelled');
    expect(h.station.history({ state: 'cancelled' })[0]?.jobId).toBe(r.jobId);
    await h.waitFor('device_updated', (m) => m.device.id === 'DEV1' && m.device.state === 'idle');
  });

  it('cancels a paused job promptly', async () => {
    h = await harness([]);
    await h.provider.plug(h.device('DEV1', { speed: 2 << 20 }));
    const img = h.image('pc.img', 8 << 20);
    const r = await h.station.startFlash({ deviceId: 'DEV1', partition: 'boot', image: img.path });
    await h.waitFor('flash_progress', (m) => m.jobId === r.jobId);
    h.station.pause(r.jobId);
    await until(() => h!.provider.parked.has('DEV1'), 30_000, 'the driver to stop at the pause gate');
    const t0 = Date.now();
    h.station.cancel(r.jobId);
    const f = await h.waitFor('flash_failed', (m) => m.jobId === r.jobId, 10_000);
    expect(f.reason).toBe('cancelled');
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(() => h!.station.resume(r.jobId)).toThrow(/cancelled/);
  });

  it('retries a transient failure and never a user fault', async () => {
    h = await harness([]);
    await h.provider.plug(h.device('DEV1', { transientFailures: 1 }));
    const img = h.image('r.img', 2 << 20);
    const r = await h.station.startFlash({ deviceId: 'DEV1', partition: 'boot', image: img.path });
    await h.waitFor('flash_completed', (m) => m.jobId === r.jobId);
    expect(h.of('flash_log', r.jobId).some((l) => l.level === 'warn' && /retrying/.test(l.message))).toBe(true);
    const progress = h.of('flash_progress', r.jobId).map((p) => p.progress);
    expect(progress).toEqual([...progress].sort((x, y) => x - y));
    expect(readFileSync(h.provider.partitionFile('DEV1', 'boot')).subarray(0, img.data.length).equals(img.data)).toBe(true);

    // A fault that is not transient (a write-protected partition) fails at once: one attempt, no retry.
    await h.provider.plug(h.device('DEV2', { partitions: { locked: 16 << 20 } }));
    const u = await h.station.startFlash({ deviceId: 'DEV2', partition: 'locked', image: img.path });
    const f = await h.waitFor('flash_failed', (m) => m.jobId === u.jobId);
    expect(f.code).toBe('device_rejected');
    expect(f.error).toMatch(/unlock the bootloader/);
    expect(h.of('flash_log', u.jobId).some((l) => /retrying/.test(l.message))).toBe(false);
    expect([...h.station.exportCsv({ deviceId: 'DEV2' })].join('')).toMatch(/device_rejected/);
  }, 60_000);

  it('fails a job whose device never appears, and starts one whose device is plugged in while it waits', async () => {
    h = await harness([]);
    const img = h.image('w.img', 1 << 20);
    const late = await h.station.startFlash({ deviceId: 'LATE', partition: 'boot', image: img.path, waitForDeviceMs: 10_000 });
    expect(late.status).toBe('queued');
    const never = await h.station.startFlash({ deviceId: 'NEVER', partition: 'boot', image: img.path, waitForDeviceMs: 300 });
    await h.provider.plug(h.device('LATE'));
    await h.waitFor('flash_completed', (m) => m.jobId === late.jobId);
    const f = await h.waitFor('flash_failed', (m) => m.jobId === never.jobId);
    expect(f.code).toBe('device_not_found');
  });
});
