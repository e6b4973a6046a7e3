// Plans through a real Station and the fastboot simulator: several steps, a reboot in the middle (the device detaches
// and comes back), stage sentences, totalBytes over all flash steps, per-stage history.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createStation, type Station } from '../../../src/core/station.js';
import type { ServerMessage } from '../../../src/protocol/messages.js';
import { createSimProvider } from '../../../src/sim/index.js';
import { until } from '../../helpers/until.js';
import type { FastbootSimDevice } from '../../../src/sim/fastboot/device.js';

let station: Station | undefined;
let dir: string | undefined;
afterEach(async () => {
  await station?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  station = undefined;
  dir = undefined;
});


describe('plans on a simulated device', () => {
  it('flashes, reboots to the bootloader, waits for the device and flashes again', async () => {
    dir = mkdtempSync(join(tmpdir(), 'fs-plan-'));
    const sims = createSimProvider<FastbootSimDevice>(['fastboot:PLAN0001?speed=40M&reboot-delay=300ms&partitions=boot:16M,system:32M'], { dataDir: dir });
    station = await createStation({ dataDir: dir, providers: [sims] });
    const events: ServerMessage[] = [];
    station.subscribe((m) => events.push(m));
    await until(() => station!.devices()[0]?.state === 'idle', 20_000, 'the device');
    const boot = randomBytes(2 << 20);
    const system = randomBytes(5 << 20);
    writeFileSync(join(dir, 'boot.img'), boot);
    writeFileSync(join(dir, 'system.img'), system);
    const plan = {
      name: 'two partitions',
      steps: [
        { op: 'flash' as const, partition: 'boot', image: join(dir, 'boot.img') },
        { op: 'reboot' as const, target: 'bootloader' as const },
        { op: 'wait_for_device' as const, timeoutMs: 20_000 },
        { op: 'flash' as const, partition: 'system', image: join(dir, 'system.img') },
      ],
    };
    const r = await station.startFlash({ deviceId: 'PLAN0001', plan });
    await until(() => events.some((e) => (e.type === 'flash_completed' || e.type === 'flash_failed') && e.jobId === r.jobId), 60_000, 'the job');
    const failed = events.find((e) => e.type === 'flash_failed');
    expect(failed).toBeUndefined();
    const started = events.find((e) => e.type === 'flash_started' && e.jobId === r.jobId);
    expect(started).toMatchObject({ totalBytes: 7 << 20, stage: 'Writing boot partition (1/4)' });
    // The device went away and came back during the job.
    expect(events.some((e) => e.type === 'device_detached' && e.deviceId === 'PLAN0001')).toBe(true);
    const stages = new Set(events.filter((e) => e.type === 'flash_progress' && e.jobId === r.jobId).map((e) => (e as { stage: string }).stage));
    expect(stages.has('Writing system partition (4/4)')).toBe(true);
    const progress = events.filter((e) => e.type === 'flash_progress' && e.jobId === r.jobId).map((e) => (e as { progress: number }).progress);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(progress[progress.length - 1]).toBe(100);
    const sim = sims.devices.get('PLAN0001')!;
    expect(readFileSync(sim.partitionPath('boot')).subarray(0, boot.length).equals(boot)).toBe(true);
    expect(readFileSync(sim.partitionPath('system')).subarray(0, system.length).equals(system)).toBe(true);
    const detail = station.jobDetail(r.jobId)!;
    expect(detail.stages.map((s) => s.stage)).toEqual([
      'Writing boot partition (1/4)', 'Rebooting to bootloader (2/4)', 'Waiting for the device (3/4)', 'Writing system partition (4/4)',
    ]);
    expect(detail.stages.map((s) => s.bytes)).toEqual([2 << 20, 0, 0, 5 << 20]);
    expect(detail.job.target).toBe('two partitions');
    // The record hashes follow the completion (they are not on the job's critical path).
    await until(() => (station!.jobDetail(r.jobId)?.images ?? []).every((i) => i.sha256 !== undefined), 30_000, 'the image hashes');
    expect(station.jobDetail(r.jobId)?.images?.map((i) => [i.partition, i.size, i.sha256])).toEqual([
      ['boot', boot.length, createHash('sha256').update(boot).digest('hex')],
      ['system', system.length, createHash('sha256').update(system).digest('hex')],
    ]);
    expect(station.devices()[0]?.info.station).toBe('done');
  }, 90_000);

  it('refuses a plan naming a partition the device does not have, before any job exists', async () => {
    dir = mkdtempSync(join(tmpdir(), 'fs-plan-'));
    const sims = createSimProvider<FastbootSimDevice>(['fastboot:PLAN0002?partitions=boot:16M'], { dataDir: dir });
    station = await createStation({ dataDir: dir, providers: [sims] });
    await until(() => station!.devices()[0]?.state === 'idle', 20_000, 'the device');
    writeFileSync(join(dir, 'v.img'), randomBytes(4096));
    await expect(
      station.startFlash({ deviceId: 'PLAN0002', plan: { steps: [{ op: 'flash', partition: 'vendor', image: join(dir, 'v.img') }] } }),
    ).rejects.toMatchObject({ code: 'partition_not_found' });
    expect(station.jobs()).toHaveLength(0);
  }, 30_000);
});
