// Station at scale over file devices: batches, selectors, slots, pause/cancel all, station-wide throttle, auto-flash,
// outside agents' events, settings, shutdown.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerMessage } from '../../../src/protocol/messages.js';
import { until } from '../../helpers/until.js';
import { harness, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('Station at scale', () => {
  it('runs one job per device for a batch; one failing never stops the others; the summary counts them', async () => {
    h = await harness([], { retries: 0 });
    for (const id of ['B1', 'B2', 'B3']) await h.provider.plug(h.device(id, { speed: 16 << 20 }));
    await h.provider.plug(h.device('B4', { speed: 16 << 20, transientFailures: 5 }));
    await sleep(20);
    const img = h.image('batch.img', 3 << 20);
    const r = await h.station.startFlash({ deviceIds: ['B1', 'B2', 'B3', 'B4'], partition: 'boot', image: img.path });
    expect(r.jobIds).toHaveLength(4);
    expect(r.batchId).toBeDefined();
    const done = await h.waitFor('batch_summary', (m) => m.batchId === r.batchId && m.running === 0 && m.queued === 0);
    expect(done).toMatchObject({ total: 4, succeeded: 3, failed: 1, cancelled: 0 });
    for (const id of ['B1', 'B2', 'B3']) {
      expect(readFileSync(h.provider.partitionFile(id, 'boot')).subarray(0, img.data.length).equals(img.data)).toBe(true);
    }
    expect(h.station.batch(r.batchId!)).toMatchObject({ succeeded: 3, failed: 1 });
    expect(h.station.history({ batchId: r.batchId! })).toHaveLength(4);
    const ports = h.station.stats().ports ?? [];
    expect(ports.find((p) => p.port === 'port-B4')).toEqual({ port: 'port-B4', succeeded: 0, failed: 1 });
    expect(ports.find((p) => p.port === 'port-B1')).toEqual({ port: 'port-B1', succeeded: 1, failed: 0 });
  });

  it('selects devices: `*` with a selector, and a selector alone', async () => {
    h = await harness([]);
    for (const id of ['S1', 'S2', 'X1']) await h.provider.plug(h.device(id));
    await sleep(20);
    const img = h.image('sel.img', 1 << 20);
    const r = await h.station.startFlash({ deviceIds: ['*'], selector: { serial: 'S*' }, partition: 'boot', image: img.path });
    expect(r.jobIds.map((id) => h!.station.job(id)?.deviceId).sort()).toEqual(['S1', 'S2']);
    await h.waitFor('batch_summary', (m) => m.batchId === r.batchId && m.succeeded === 2);
    const all = await h.station.startFlash({ selector: { protocol: 'fastboot', state: 'idle' }, partition: 'boot', image: img.path });
    expect(all.jobIds).toHaveLength(3);
    await expect(h.station.startFlash({ selector: { serial: 'NOPE*' }, partition: 'boot', image: img.path })).rejects.toMatchObject({ code: 'device_not_found' });
  });

  it('keeps to the slot limit, FIFO, with queue positions', async () => {
    h = await harness([], { slotLimit: 2 });
    // Q1's transfer ends well before Q2's: Q3 takes the first slot that frees, Q4 moves up to position 1, then takes the
    // other. The order is read where the scheduler makes it — the device lock (device_updated, station 'flashing'), in
    // the event stream — not from flash_started timestamps, which follow each job's own image open and, on a busy
    // machine, both slots can free in the same millisecond (the two share one image hash that may end last).
    for (const [id, speed] of [['Q1', 16 << 20], ['Q2', 4 << 20], ['Q3', 16 << 20], ['Q4', 16 << 20]] as const) {
      await h.provider.plug(h.device(id, { speed }));
    }
    await sleep(20);
    let running = 0;
    let maxRunning = 0;
    h.station.subscribe((m: ServerMessage) => {
      if (m.type === 'flash_started') maxRunning = Math.max(maxRunning, ++running);
      if (m.type === 'flash_completed' || m.type === 'flash_failed') running--;
    });
    const img = h.image('slots.img', 2 << 20);
    const r = await h.station.startFlash({ deviceIds: ['Q1', 'Q2', 'Q3', 'Q4'], partition: 'boot', image: img.path });
    const positions = r.jobIds.map((id) => h!.of('flash_queued', id)[0]?.position);
    expect(positions).toEqual([undefined, undefined, 1, 2]);
    await h.waitFor('batch_summary', (m) => m.batchId === r.batchId && m.succeeded === 4);
    expect(maxRunning).toBe(2);
    // The first two shared one decode, the queued two read the image when their turn came: all hold it.
    for (const id of ['Q1', 'Q2', 'Q3', 'Q4']) {
      expect(readFileSync(h.provider.partitionFile(id, 'boot')).subarray(0, img.data.length).equals(img.data)).toBe(true);
    }
    await until(() => r.jobIds.every((id) => h!.station.job(id)?.sha256 !== undefined), 30_000, 'the image hashes');
    expect(r.jobIds.map((id) => h!.station.job(id)?.sha256)).toEqual([img.sha256, img.sha256, img.sha256, img.sha256]);
    const taken = ['Q3', 'Q4'].map((id) => h!.events.findIndex((m) => m.type === 'device_updated' && m.device.id === id && m.device.info.station === 'flashing'));
    expect(taken[0]).toBeGreaterThanOrEqual(0);
    expect(taken[0]!).toBeLessThan(taken[1]!);
    const starts = r.jobIds.map((id) => h!.of('flash_started', id)[0]!.timestamp);
    expect(Math.min(starts[2]!, starts[3]!)).toBeGreaterThanOrEqual(Math.min(...[0, 1].map((i) => h!.of('flash_completed', r.jobIds[i])[0]!.timestamp)));
    expect(h.of('flash_queued', r.jobIds[3]).map((m) => m.position)).toEqual([2, 1]);
  });

  it('pauses, resumes and cancels all', async () => {
    h = await harness([]);
    for (const id of ['P1', 'P2', 'P3']) await h.provider.plug(h.device(id, { speed: 4 << 20 }));
    await sleep(20);
    const img = h.image('all.img', 8 << 20);
    const r = await h.station.startFlash({ deviceIds: ['P1', 'P2', 'P3'], partition: 'boot', image: img.path });
    await h.waitFor('flash_progress', (m) => m.jobId === r.jobIds[2]);
    expect(h.station.pauseAll()).toHaveLength(3);
    await until(() => ['P1', 'P2', 'P3'].every((id) => h!.provider.parked.has(id)), 30_000, 'all three drivers to stop at the pause gate');
    const at = r.jobIds.map((id) => h!.station.job(id)!.bytesTransferred);
    await sleep(700);
    expect(r.jobIds.map((id) => h!.station.job(id)!.bytesTransferred)).toEqual(at);
    expect(h.station.resumeAll()).toHaveLength(3);
    await sleep(300);
    expect(h.station.cancelAll()).toHaveLength(3);
    const s = await h.waitFor('batch_summary', (m) => m.batchId === r.batchId && m.cancelled === 3);
    expect(s.running).toBe(0);
  });

  it('holds a station-wide limit live across jobs', async () => {
    h = await harness([]);
    for (const id of ['T1', 'T2']) await h.provider.plug(h.device(id));
    await sleep(20);
    h.station.setLimits(undefined, 2_000_000);
    const img = h.image('thr.img', 16 << 20);
    const r = await h.station.startFlash({ deviceIds: ['T1', 'T2'], partition: 'system', image: img.path });
    // The rate over the window the limiter controls: from when both jobs move (starting them — opening the image,
    // planning — is not throttled, and takes longer on a busy machine), half a second in, for 3 s.
    const moved = (): number => r.jobIds.reduce((n, id) => n + h!.station.job(id)!.bytesTransferred, 0);
    await until(() => r.jobIds.every((id) => (h!.station.job(id)?.bytesTransferred ?? 0) > 0), 30_000, 'both jobs moving');
    await sleep(500);
    const m0 = moved();
    const t0 = performance.now();
    await sleep(3000);
    const rate = (moved() - m0) / ((performance.now() - t0) / 1000);
    expect(rate).toBeGreaterThan(2_000_000 * 0.85);
    expect(rate).toBeLessThan(2_000_000 * 1.1);
    h.station.setLimits(undefined, null);
    await h.waitFor('batch_summary', (m) => m.batchId === r.batchId && m.succeeded === 2);
  });

  it('holds a per-job limit of 5 MB/s within ±10 % while another job runs unlimited', async () => {
    h = await harness([]);
    for (const id of ['L1', 'L2']) await h.provider.plug(h.device(id, { speed: 20_000_000 }));
    await sleep(20);
    const img = h.image('lim.img', 40 << 20);
    const a = await h.station.startFlash({ deviceId: 'L1', partition: 'system', image: img.path });
    const b = await h.station.startFlash({ deviceId: 'L2', partition: 'system', image: img.path });
    h.station.setLimits(a.jobId, 5_000_000);
    await until(() => [a.jobId, b.jobId].every((id) => (h!.station.job(id)?.bytesTransferred ?? 0) > 0), 30_000, 'both jobs moving');
    await sleep(500);
    const a0 = h.station.job(a.jobId)!.bytesTransferred;
    const b0 = h.station.job(b.jobId)!.bytesTransferred;
    const t0 = performance.now();
    await sleep(3000);
    const secs = (performance.now() - t0) / 1000;
    const rate = (h.station.job(a.jobId)!.bytesTransferred - a0) / secs;
    const other = (h.station.job(b.jobId)!.bytesTransferred - b0) / secs;
    expect(rate).toBeLessThan(5_500_000);
    expect(h.station.job(a.jobId)!.transferSpeed).toBeLessThan(5_500_000);
    // The unlimited job shows what the machine can move right now; when that is clearly more than the limit (it is,
    // unless other work crowds the 2 cores), the limited job reaches it within 10 %.
    if (other > 6_000_000) {
      expect(rate).toBeGreaterThan(4_500_000);
      expect(h.station.job(a.jobId)!.transferSpeed).toBeGreaterThan(4_500_000);
    } else {
      console.warn(`station-scale: the unlimited job moved only ${Math.round(other)} B/s; the limit was checked as an upper bound`);
    }
    h.station.cancelAll();
  });

  it('auto-flashes a matching device when it is plugged in, marks it done, and waits for a real replug', async () => {
    h = await harness([]);
    const img = h.image('auto.img', 1 << 20);
    h.station.updateSettings({
      autoFlash: { enabled: true, replugMs: 400, rules: [{ id: 'line', enabled: true, match: { serial: 'AUTO*' }, partition: 'boot', image: img.path }] },
    });
    await h.provider.plug(h.device('OTHER'));
    await h.provider.plug(h.device('AUTO1'));
    const started = await h.waitFor('flash_started', (m) => m.deviceId === 'AUTO1');
    await h.waitFor('flash_completed', (m) => m.jobId === started.jobId);
    await h.waitFor('device_updated', (m) => m.device.id === 'AUTO1' && m.device.info.station === 'done' && m.device.state === 'idle');
    expect(h.of('flash_started').some((m) => m.deviceId === 'OTHER')).toBe(false);
    // Unplugged and back at once (a reboot): still done, not flashed again.
    h.provider.unplug('AUTO1');
    await h.provider.plug(h.device('AUTO1'));
    await sleep(300);
    expect(h.of('flash_started').filter((m) => m.deviceId === 'AUTO1')).toHaveLength(1);
    // Unplugged for longer than replugMs: a new plug, flashed again.
    h.provider.unplug('AUTO1');
    await sleep(500);
    await h.provider.plug(h.device('AUTO1'));
    await h.waitFor('flash_started', (m) => m.deviceId === 'AUTO1' && m.jobId !== started.jobId);
  });

  it('clears the done mark of a device replugged after a while, with no auto-flash rules', async () => {
    h = await harness([], { autoFlash: { enabled: true, rules: [], replugMs: 100 } });
    await h.provider.plug(h.device('R1'));
    const img = h.image('r.img', 1 << 20);
    const r = await h.station.startFlash({ deviceId: 'R1', partition: 'boot', image: img.path });
    await h.waitFor('device_updated', (m) => m.device.id === 'R1' && m.device.info.station === 'done');
    expect(h.station.job(r.jobId)?.state).toBe('completed');
    h.provider.unplug('R1');
    await sleep(200);
    await h.provider.plug(h.device('R1'));
    await h.waitFor('device_updated', (m) => m.device.id === 'R1' && m.device.state === 'idle' && m.device.info.station === undefined);
    expect(h.station.devices()[0]?.info.stationSucceeded).toBe(1); // the port's counter stays
  });

  it('rebroadcasts and records an outside agent’s job, and refuses one that names a station job', async () => {
    h = await harness(['E1']);
    const ts = Date.now();
    h.station.publishExternal({ type: 'flash_started', jobId: 'ext-1', deviceId: 'bench-1', stage: 'Writing', totalBytes: 100, timestamp: ts });
    h.station.publishExternal({ type: 'flash_progress', jobId: 'ext-1', deviceId: 'bench-1', progress: 50, stage: 'Writing', bytesTransferred: 50, totalBytes: 100, transferSpeed: 10, estimatedTimeRemaining: 5, timestamp: ts });
    h.station.publishExternal({ type: 'flash_completed', jobId: 'ext-1', deviceId: 'bench-1', timestamp: ts });
    expect(h.of('flash_progress', 'ext-1')[0]?.progress).toBe(50);
    expect(h.station.history({ deviceId: 'bench-1' })[0]).toMatchObject({ jobId: 'ext-1', state: 'completed' });
    const img = h.image('e.img', 1 << 20);
    const r = await h.station.startFlash({ deviceId: 'E1', partition: 'boot', image: img.path });
    expect(() => h!.station.publishExternal({ type: 'flash_completed', jobId: r.jobId, deviceId: 'E1', timestamp: ts })).toThrow(/station itself/);
    expect(() => h!.station.publishExternal({ type: 'flash_completed', jobId: '', deviceId: 'E1', timestamp: ts })).toThrow(/jobId/);
    await h.waitFor('flash_completed', (m) => m.jobId === r.jobId);
  });

  it('validates and persists settings; analytics and CSV come from history', async () => {
    h = await harness(['A1']);
    expect(() => h!.station.updateSettings({ slotLimit: -1 })).toThrow(/slotLimit/);
    expect(h.station.updateSettings({ retries: 4 }).retries).toBe(4);
    expect(h.station.getSettings().retries).toBe(4);
    const img = h.image('an.img', 1 << 20);
    const r = await h.station.startFlash({ deviceId: 'A1', partition: 'boot', image: img.path });
    await h.waitFor('flash_completed', (m) => m.jobId === r.jobId);
    const rows = h.station.analytics({ groupBy: 'device' });
    expect(rows[0]).toMatchObject({ key: 'A1', count: 1, succeeded: 1, successRate: 1 });
    expect(rows[0]!.throughput).toBeGreaterThan(0);
    expect(h.station.analytics({ groupBy: 'image' })[0]?.key).toBe(img.path);
    const csv = [...h.station.exportCsv({})].join('');
    expect(csv.split('\r\n')[1]).toContain(r.jobId);
    expect(() => h!.station.analytics({ groupBy: 'week' as 'day' })).toThrow(/groupBy/);
  });

  it('close() cancels running jobs cleanly, refuses new ones and closes the database', async () => {
    h = await harness([]);
    await h.provider.plug(h.device('C1', { speed: 2 << 20 }));
    const img = h.image('close.img', 8 << 20);
    const r = await h.station.startFlash({ deviceId: 'C1', partition: 'boot', image: img.path });
    await h.waitFor('flash_progress', (m) => m.jobId === r.jobId);
    await h.station.close();
    expect(h.of('flash_failed', r.jobId)[0]).toMatchObject({ error: 'Cancelled', reason: 'cancelled' });
    await expect(h.station.startFlash({ deviceId: 'C1', partition: 'boot', image: img.path })).rejects.toMatchObject({ code: 'shutting_down' });
    expect(() => h!.station.history({})).toThrow();
  });
});
