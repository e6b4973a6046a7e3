// Issue 5 with the fastboot simulator: 16 simulated USB devices flashed at once from one image — pause 3, throttle one,
// cancel one — and auto-flash of a simulator that appears while the station runs.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createStation, type Station } from '../../../src/core/station.js';
import type { CandidateProvider as DeviceProvider, CandidateSink as DeviceSink } from '../../../src/contracts/provider.js';
import type { ServerMessage } from '../../../src/protocol/messages.js';
import { createSimProvider, type SimProvider } from '../../../src/sim/index.js';
import { until } from '../../helpers/until.js';
import type { FastbootSimDevice } from '../../../src/sim/fastboot/device.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fs-sims-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}


async function start(dir: string, providers: DeviceProvider[]): Promise<{ station: Station; events: ServerMessage[] }> {
  const station = await createStation({ dataDir: dir, providers, settings: { slotLimit: 16 } });
  cleanups.push(() => station.close());
  const events: ServerMessage[] = [];
  station.subscribe((m) => events.push(m));
  return { station, events };
}

describe('16 simulated devices', () => {
  it('flash from one image: 3 paused for 2 s stand still, one throttled to 5 MB/s, one cancelled, the rest complete', async () => {
    const dir = tempDir();
    const serials = Array.from({ length: 16 }, (_, i) => `SIM${String(i).padStart(4, '0')}`);
    const sims = createSimProvider<FastbootSimDevice>(
      serials.map((s) => `fastboot:${s}?speed=16M&max-download=8M&partitions=boot:16M,system:96M`),
      { dataDir: dir },
    );
    const { station, events } = await start(dir, [sims]);
    await until(() => station.devices().filter((d) => d.state === 'idle').length === 16, 30_000, '16 idle devices');
    const image = join(dir, 'system.img');
    const data = randomBytes(64 << 20);
    writeFileSync(image, data);

    // Fifteen in one batch (decoded once, shared); the sixteenth on its own, limited to 5 MB/s from the start, so a
    // throttled job does not pace the shared decode of the others.
    const slowSerial = serials[15] as string;
    const r = await station.startFlash({ deviceIds: serials.slice(0, 15), partition: 'system', image });
    const s = await station.startFlash({ deviceId: slowSerial, partition: 'system', image });
    station.setLimits(s.jobId, 5_000_000);
    expect(r.jobIds).toHaveLength(15);
    expect(r.status).toBe('started');
    const slow = s.jobId;
    const [p1, p2, p3, peer, cancelled] = r.jobIds as [string, string, string, string, string];
    await until(() => [...r.jobIds, slow].every((id) => (station.job(id)?.bytesTransferred ?? 0) > 0), 30_000, 'all jobs moving');
    // Cancel one early; its share of the decode is released and the others go on.
    station.cancel(cancelled);

    // The throttled job's speed over 2.5 s; an unthrottled peer's over the first second shows what the machine can move.
    // Three of the batch are paused one second in, and must stand still for 2 s.
    const b0 = station.job(slow)!.bytesTransferred;
    const q0 = station.job(peer)!.bytesTransferred;
    const t0 = performance.now();
    await sleep(1000);
    const peerRate = (station.job(peer)!.bytesTransferred - q0) / ((performance.now() - t0) / 1000);
    for (const id of [p1, p2, p3]) expect(station.pause(id).state).toBe('paused');
    // A slice in flight still lands (slower on a busy machine): wait until the three stand still, then hold them to it.
    const pausedBytes = (): string => [p1, p2, p3].map((id) => station.job(id)!.bytesTransferred).join();
    let last = ''; // the first sample has nothing to compare with; then samples 300 ms apart
    await until(() => {
      const now = pausedBytes();
      const still = now === last;
      last = now;
      return still;
    }, 15_000, 'the paused jobs to stand still', 300);
    const held = [p1, p2, p3].map((id) => station.job(id)!.bytesTransferred);
    await sleep(1200);
    const rate = (station.job(slow)!.bytesTransferred - b0) / ((performance.now() - t0) / 1000);
    expect(rate).toBeLessThan(5_000_000 * 1.1);
    expect(station.job(slow)!.transferSpeed).toBeLessThan(5_000_000 * 1.15);
    if (peerRate > 5_000_000 * 1.2) {
      // The machine moves more than the limit (the unthrottled peer shows it): the limit holds within ±10 %.
      expect(rate).toBeGreaterThan(5_000_000 * 0.9);
    } else {
      // A machine too busy to reach the limit at all (other work on the 2 cores): only the upper bound can be checked
      // here; tests/integration/core/station-scale.test.ts checks the ±10 % on file devices.
      console.warn(`station-sims: peer reached only ${Math.round(peerRate)} B/s; throttle checked as an upper bound`);
      expect(rate).toBeGreaterThan(0);
    }
    await sleep(800);
    expect([p1, p2, p3].map((id) => station.job(id)!.bytesTransferred)).toEqual(held);
    expect([p1, p2, p3].every((id) => station.job(id)!.state === 'paused')).toBe(true);
    for (const id of [p1, p2, p3]) station.resume(id);

    station.setLimits(slow, null);
    const summary = await new Promise<Extract<ServerMessage, { type: 'batch_summary' }>>((resolve) => {
      const check = (): boolean => {
        const s = events.find((e): e is Extract<ServerMessage, { type: 'batch_summary' }> => e.type === 'batch_summary' && e.batchId === r.batchId && e.running === 0 && e.queued === 0);
        if (s) resolve(s);
        return !!s;
      };
      if (!check()) station.subscribe(() => void check());
    });
    expect(summary).toMatchObject({ total: 15, succeeded: 14, cancelled: 1, failed: 0 });
    await until(() => station.job(slow)?.state === 'completed', 60_000, 'the throttled job');
    const failed = events.find((e) => e.type === 'flash_failed' && e.jobId === cancelled);
    expect(failed).toMatchObject({ error: 'Cancelled', reason: 'cancelled' });
    // Paused ones finished after resume, byte for byte.
    for (const [i, id] of [...r.jobIds, slow].entries()) {
      if (id === cancelled) continue;
      const part = readFileSync(sims.devices.get(serials[i] as string)!.partitionPath('system'));
      expect(part.subarray(0, data.length).equals(data), `device ${serials[i]}`).toBe(true);
    }
    const progress = events.filter((e) => e.type === 'flash_progress' && e.jobId === p1) as Array<Extract<ServerMessage, { type: 'flash_progress' }>>;
    expect(progress[progress.length - 1]?.progress).toBe(100);
  }, 120_000);

  it('auto-flash flashes a simulated device that appears while the station runs', async () => {
    const dir = tempDir();
    const image = join(dir, 'boot.img');
    const data = randomBytes(3 << 20);
    writeFileSync(image, data);
    const sim: SimProvider<FastbootSimDevice> = createSimProvider<FastbootSimDevice>(['fastboot:LINE0001?speed=40M&partitions=boot:16M,system:64M&product=line'], { dataDir: dir });
    // The simulator is plugged in later: its provider starts only when the test says so.
    let sink: DeviceSink | undefined;
    const late: DeviceProvider = {
      name: 'late',
      start: async (s) => void (sink = s),
      stop: () => sim.stop(),
    };
    const { station, events } = await start(dir, [late]);
    station.updateSettings({
      autoFlash: { enabled: true, replugMs: 5000, rules: [{ id: 'line', enabled: true, match: { protocol: 'fastboot', product: 'line' }, partition: 'boot', image }] },
    });
    await sim.start(sink!);
    await until(() => events.some((e) => e.type === 'flash_completed'), 30_000, 'the auto-flash job to complete');
    const started = events.find((e) => e.type === 'flash_started');
    expect(started).toMatchObject({ deviceId: 'LINE0001', totalBytes: 3 << 20 });
    const part = readFileSync(sim.devices.get('LINE0001')!.partitionPath('boot'));
    expect(part.subarray(0, data.length).equals(data)).toBe(true);
    await until(() => station.devices()[0]?.info.station === 'done', 5000, 'done — unplug');
    expect(station.devices()[0]?.info.stationMessage).toBe('Done — unplug');
  }, 60_000);
});
