// Retries on a simulated device that drops off the bus mid-transfer and comes back: the step is retried and the job
// completes byte for byte; progress never goes back. A device FAIL (not transient) is never retried.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createStation, type Station } from '../../../src/core/station.js';
import type { ServerMessage } from '../../../src/protocol/messages.js';
import { createSimProvider, type SimProvider } from '../../../src/sim/index.js';
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


async function setup(spec: string): Promise<{ events: ServerMessage[]; sims: SimProvider<FastbootSimDevice>; image: string; data: Buffer }> {
  dir = mkdtempSync(join(tmpdir(), 'fs-retry-'));
  const sims = createSimProvider<FastbootSimDevice>([spec], { dataDir: dir });
  station = await createStation({ dataDir: dir, providers: [sims], settings: { retries: 2, retryDelayMs: 100 } });
  const events: ServerMessage[] = [];
  station.subscribe((m) => events.push(m));
  await until(() => station!.devices()[0]?.state === 'idle', 20_000, 'the device');
  const data = randomBytes(8 << 20);
  const image = join(dir, 'system.img');
  writeFileSync(image, data);
  return { events, sims, image, data };
}

describe('retries on a simulated device', () => {
  it('retries after the device dropped mid-transfer and came back, and completes', async () => {
    const { events, sims, image, data } = await setup('fastboot:DROP0001?speed=40M&max-download=4M&disconnect-after=5M&reboot-delay=300ms&partitions=system:32M');
    const r = await station!.startFlash({ deviceId: 'DROP0001', partition: 'system', image });
    await until(() => events.some((e) => (e.type === 'flash_completed' || e.type === 'flash_failed') && e.jobId === r.jobId), 60_000, 'the job');
    expect(events.find((e) => e.type === 'flash_failed')).toBeUndefined();
    expect(events.some((e) => e.type === 'device_detached')).toBe(true);
    const logs = events.filter((e): e is Extract<ServerMessage, { type: 'flash_log' }> => e.type === 'flash_log' && e.jobId === r.jobId);
    expect(logs.some((l) => l.level === 'warn' && /retrying/.test(l.message))).toBe(true);
    const progress = events.filter((e): e is Extract<ServerMessage, { type: 'flash_progress' }> => e.type === 'flash_progress' && e.jobId === r.jobId);
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.progress).toBeGreaterThanOrEqual(progress[i - 1]!.progress);
    expect(progress[progress.length - 1]).toMatchObject({ progress: 100, bytesTransferred: 8 << 20, totalBytes: 8 << 20 });
    const part = readFileSync(sims.devices.get('DROP0001')!.partitionPath('system'));
    expect(part.subarray(0, data.length).equals(data)).toBe(true);
    expect(station!.jobDetail(r.jobId)?.stages[0]?.bytes).toBe(8 << 20);
  }, 90_000);

  it('does not retry when the device refuses the flash', async () => {
    const { events, image } = await setup('fastboot:FAIL0001?speed=40M&fail-command=flash&partitions=system:32M');
    const r = await station!.startFlash({ deviceId: 'FAIL0001', partition: 'system', image });
    await until(() => events.some((e) => e.type === 'flash_failed' && e.jobId === r.jobId), 60_000, 'the failure');
    const failed = events.find((e) => e.type === 'flash_failed') as Extract<ServerMessage, { type: 'flash_failed' }>;
    expect(failed.reason).toBe('error');
    expect(failed.error.length).toBeGreaterThan(10);
    expect(events.some((e) => e.type === 'flash_log' && /retrying/.test(e.message))).toBe(false);
  }, 60_000);
});
