// Station-scale features as an outside client sees them over the wire (real core, simulated fastboot devices): the
// "all idle fastboot devices" selector, batch summaries with paused counts, waiting for an absent device, a corrupt image
// refused before a job exists, set_limits without a job saved as a setting, and history filters, CSV and analytics over WS and REST.
import { gzipSync } from 'node:zlib';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnalyticsRow } from '../../../src/core/station-api.js';
import { launchStation, type LaunchedStation } from '../../../src/server/launch.js';
import type { BatchSummaryMessage, FlashFailedMessage, Job, ResultMessage, SnapshotMessage } from '../../../src/protocol/messages.js';
import { connect, makeImage, type Conn } from './helpers/harness.js';

let dir: string;
let s: LaunchedStation;
let http: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fs-scale-wire-'));
  s = await launchStation({
    host: '127.0.0.1', port: 0, dataDir: join(dir, 'data'), usb: false, serial: false,
    // SLOW0001 stays busy with a paused job; SLOW0002 is slow enough to be paused mid-batch; FAST0003 is quick.
    sims: ['fastboot:SLOW0001?speed=1M&partitions=boot:16M', 'fastboot:SLOW0002?speed=2M&partitions=boot:16M', 'fastboot:FAST0003?speed=64M&partitions=boot:16M'],
  });
  http = `http://127.0.0.1:${s.port}`;
});
afterAll(async () => {
  await s.close();
  await rm(dir, { recursive: true, force: true });
});

const authed = (): Promise<Conn> => connect(`${s.url}?token=${encodeURIComponent(s.token)}`);
const auth = (): Record<string, string> => ({ authorization: `Bearer ${s.token}` });
const summaries = (c: Conn, batchId: string): BatchSummaryMessage[] =>
  c.frames.filter((m): m is BatchSummaryMessage => m.type === 'batch_summary' && m.batchId === batchId);

describe('station scale over the wire', () => {
  let batchId = '';
  let batchJobs: string[] = [];
  let busyJob = '';

  it('starts one job per idle fastboot device with the selector, leaving a busy one out; batch counts include paused', async () => {
    const c = await authed();
    // Wait until the three simulators are described (idle).
    let idle = 0;
    for (let i = 0; i < 200 && idle < 3; i++) {
      const snap = (await c.request({ type: 'get_snapshot' })) as SnapshotMessage;
      idle = snap.devices.filter((d) => d.state === 'idle').length;
      if (idle < 3) await new Promise((r) => setTimeout(r, 100));
    }
    expect(idle).toBe(3);
    const image = await makeImage(dir, 'boot.img', 4 << 20);
    // Hold SLOW0001: a job that is paused keeps its device busy.
    const held = (await c.request({ type: 'start_flash', deviceId: 'SLOW0001', partition: 'boot', image })) as ResultMessage & { jobId: string };
    expect(held).toMatchObject({ ok: true });
    busyJob = held.jobId;
    await c.next((m) => m.type === 'flash_started' && m.jobId === busyJob, 20_000);
    expect(await c.request({ type: 'pause_flash', jobId: busyJob })).toMatchObject({ ok: true });

    const r = (await c.request({ type: 'start_flash', deviceIds: ['*'], selector: { protocol: 'fastboot', state: 'idle' }, partition: 'boot', image }, 20_000)) as
      ResultMessage & { jobIds: string[]; batchId: string };
    expect(r).toMatchObject({ ok: true, batchId: expect.any(String) });
    expect(r.jobIds).toHaveLength(2);
    batchId = r.batchId;
    batchJobs = r.jobIds;
    const jobs = await Promise.all(r.jobIds.map(async (id) => (await (await fetch(`${http}/api/jobs/${id}`)).json()) as Job));
    expect(jobs.map((j) => j.deviceId).sort()).toEqual(['FAST0003', 'SLOW0002']);
    const slowJob = jobs.find((j) => j.deviceId === 'SLOW0002')!.jobId;

    // The first summary counts both jobs at once (one frame for the whole batch, not one per job).
    const first = await c.next<BatchSummaryMessage>((m) => m.type === 'batch_summary' && m.batchId === batchId);
    expect(first.total).toBe(2);
    expect(first.running + first.queued + first.succeeded).toBe(2);

    await c.next((m) => m.type === 'flash_started' && m.jobId === slowJob, 20_000);
    expect(await c.request({ type: 'pause_flash', jobId: slowJob })).toMatchObject({ ok: true });
    const paused = await c.next<BatchSummaryMessage>((m) => m.type === 'batch_summary' && m.batchId === batchId && m.paused === 1);
    expect(paused.running).toBeGreaterThanOrEqual(1); // running counts paused jobs too
    // A client that connects now sees the batch, with the paused one, in its snapshot.
    const late = await connect(s.url);
    const snap = late.frames.find((m) => m.type === 'snapshot') as SnapshotMessage;
    expect(snap.batches?.find((b) => b.batchId === batchId)).toMatchObject({ total: 2, paused: 1 });
    late.close();

    expect(await c.request({ type: 'resume_flash', jobId: slowJob })).toMatchObject({ ok: true });
    const done = await c.next<BatchSummaryMessage>((m) => m.type === 'batch_summary' && m.batchId === batchId && m.running === 0 && m.queued === 0, 60_000);
    expect(done).toMatchObject({ total: 2, succeeded: 2, failed: 0, cancelled: 0, paused: 0 });
    // Every transition was counted: created, paused, resumed, and each end.
    expect(summaries(c, batchId).length).toBeGreaterThanOrEqual(4);

    // End the held job: cancelled, for the history filters below.
    expect(await c.request({ type: 'cancel_flash', jobId: busyJob })).toMatchObject({ ok: true });
    await c.next((m) => m.type === 'flash_failed' && m.jobId === busyJob, 20_000);
    c.close();
  }, 120_000);

  it('a job for an absent device waits for it, and fails with device_not_found when its wait runs out', async () => {
    const c = await authed();
    const image = await makeImage(dir, 'wait.img', 1 << 20);
    const r = (await c.request({ type: 'start_flash', deviceId: 'GHOST001', partition: 'boot', image, waitForDeviceMs: 400 })) as ResultMessage & { jobId: string; status: string };
    expect(r).toMatchObject({ ok: true, status: 'queued' });
    const failed = await c.next<FlashFailedMessage>((m) => m.type === 'flash_failed' && m.jobId === r.jobId, 20_000);
    expect(failed.code).toBe('device_not_found');
    // Without a wait, an absent device is refused before any job exists.
    const refused = (await c.request({ type: 'start_flash', deviceId: 'GHOST002', partition: 'boot', image })) as ResultMessage;
    expect(refused).toMatchObject({ ok: false, error: { code: 'device_not_found' } });
    c.close();
  }, 60_000);

  it('never retries a user fault: a corrupt image is refused before any job exists, or fails its job once', async () => {
    const c = await authed();
    const words = Array.from({ length: 200_000 }, (_, i) => `line ${i} ${(i * 2654435761) % 1000003}\n`).join('');
    // Damaged near its start: the cheap checks (the first block decoded to see what is inside) refuse it.
    const early = gzipSync(Buffer.from(words));
    for (let i = 100; i < 164; i++) early[i] = early[i]! ^ 0xa5;
    const image = join(dir, 'corrupt.img.gz');
    await writeFile(image, early);
    const before = ((await c.request({ type: 'get_snapshot' })) as SnapshotMessage).jobs.length;
    const r = (await c.request({ type: 'start_flash', deviceId: 'FAST0003', partition: 'boot', image }, 20_000)) as ResultMessage;
    expect(r).toMatchObject({ ok: false, error: { code: 'image_invalid' } });
    expect((r as { error?: { message?: string } }).error?.message).toMatch(/corrupt.*download the image again/);
    expect(((await c.request({ type: 'get_snapshot' })) as SnapshotMessage).jobs.length).toBe(before);
    // This connection opened after the batch ended: nothing has started or queued on the device since.
    expect(c.frames.some((m) => (m.type === 'flash_started' || m.type === 'flash_queued') && m.deviceId === 'FAST0003')).toBe(false);
    // Damaged in the middle: start_flash does not decode the whole stream (issue 14 §3), so its job finds it — once.
    const middle = gzipSync(Buffer.from(words));
    for (let i = Math.floor(middle.length / 2); i < Math.floor(middle.length / 2) + 64; i++) middle[i] = middle[i]! ^ 0xa5;
    await writeFile(image, middle);
    const j = (await c.request({ type: 'start_flash', deviceId: 'FAST0003', partition: 'boot', image }, 20_000)) as ResultMessage & { jobId: string };
    expect(j).toMatchObject({ ok: true });
    const failed = await c.next<FlashFailedMessage>((m) => m.type === 'flash_failed' && m.jobId === j.jobId, 20_000);
    expect(failed).toMatchObject({ code: 'image_invalid', error: expect.stringMatching(/corrupt.*download the image again/) });
    expect(c.frames.some((m) => m.type === 'flash_log' && m.jobId === j.jobId && /retrying/.test(m.message))).toBe(false);
    c.close();
  });

  it('set_limits without a job, over WS and REST, is the saved stationBytesPerSecond setting', async () => {
    const c = await authed();
    expect(await c.request({ type: 'set_limits', bytesPerSecond: 3_000_000 })).toMatchObject({ ok: true, jobId: null, bytesPerSecond: 3_000_000 });
    expect(await c.request({ type: 'get_settings' })).toMatchObject({ ok: true, settings: { stationBytesPerSecond: 3_000_000 } });
    const rest = await fetch(`${http}/api/limits`, { method: 'POST', headers: auth(), body: JSON.stringify({ bytesPerSecond: null }) });
    expect(rest.status).toBe(200);
    expect(await (await fetch(`${http}/api/settings`)).json()).toMatchObject({ stationBytesPerSecond: null });
    c.close();
  });

  it('filters history over WS and REST, exports the filtered rows as CSV, and serves analytics', async () => {
    expect(batchId).not.toBe('');
    const c = await connect(s.url); // history is readable without the token
    const byDevice = (await c.request({ type: 'get_history', deviceId: 'SLOW0002' })) as ResultMessage & { jobs: Job[] };
    expect(byDevice.jobs.length).toBeGreaterThanOrEqual(1);
    expect(byDevice.jobs.every((j) => j.deviceId === 'SLOW0002')).toBe(true);
    const all = (await c.request({ type: 'get_history', limit: 100 })) as ResultMessage & { jobs: Job[] };
    const newest = all.jobs[0]!;
    const before = (await c.request({ type: 'get_history', before: newest.createdAt })) as ResultMessage & { jobs: Job[] };
    expect(before.jobs.some((j) => j.jobId === newest.jobId)).toBe(false);
    expect(before.jobs.every((j) => j.createdAt < newest.createdAt)).toBe(true);
    const wsBatch = (await c.request({ type: 'get_history', batchId })) as ResultMessage & { jobs: Job[] };
    expect(wsBatch.jobs.map((j) => j.jobId).sort()).toEqual([...batchJobs].sort());
    const wsCancelled = (await c.request({ type: 'get_history', state: 'cancelled' })) as ResultMessage & { jobs: Job[] };
    expect(wsCancelled.jobs.map((j) => j.jobId)).toContain(busyJob);
    expect(wsCancelled.jobs.every((j) => j.state === 'cancelled')).toBe(true);
    expect(await c.request({ type: 'get_history', state: 'exploded' })).toMatchObject({ type: 'error', code: 'bad_request' });
    c.close();

    const batch = (await (await fetch(`${http}/api/history?batchId=${batchId}`)).json()) as Job[];
    expect(batch.map((j) => j.jobId).sort()).toEqual([...batchJobs].sort());
    const cancelled = (await (await fetch(`${http}/api/history?state=cancelled`)).json()) as Job[];
    expect(cancelled.map((j) => j.jobId)).toContain(busyJob);
    expect(cancelled.every((j) => j.state === 'cancelled')).toBe(true);
    // An unknown state is refused, as over the socket, rather than answered with an empty list.
    for (const path of ['/api/history?state=exploded', '/api/history.csv?state=exploded']) {
      const bad = await fetch(`${http}${path}`);
      expect(bad.status).toBe(400);
      expect(await bad.text()).toMatch(/state must be one of queued, running, paused, completed, failed, cancelled, interrupted/);
    }
    const csv = await (await fetch(`${http}/api/history.csv?batchId=${batchId}`)).text();
    const lines = csv.trim().split(/\r?\n/);
    expect(lines).toHaveLength(1 + batchJobs.length);
    for (const id of batchJobs) expect(csv).toContain(id);

    const perDevice = (await (await fetch(`${http}/api/analytics?groupBy=device`)).json()) as AnalyticsRow[];
    const fast = perDevice.find((row) => row.key === 'FAST0003');
    expect(fast?.succeeded).toBeGreaterThanOrEqual(1);
    expect(fast?.count).toBeGreaterThanOrEqual(fast?.succeeded ?? Infinity);
    expect(fast?.successRate).toBeGreaterThan(0);
    for (const groupBy of ['image', 'day']) {
      const rows = (await (await fetch(`${http}/api/analytics?groupBy=${groupBy}`)).json()) as unknown[];
      expect(rows.length).toBeGreaterThanOrEqual(1);
    }
    expect((await fetch(`${http}/api/analytics?groupBy=planet`)).status).toBe(400);
  });
});
