// What a client learns about a running batch: batch_summary counts right at every transition (placed, started,
// paused, resumed, ended), and a fresh snapshot that carries the batches, queue positions and — by get_job_logs — logs.
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerMessage } from '../../../src/protocol/messages.js';
import { snapshotOf } from '../../../src/server/snapshot.js';
import { until } from '../../helpers/until.js';
import { harness, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

type Summary = Extract<ServerMessage, { type: 'batch_summary' }>;
const latest = (batchId: string): Summary | undefined => h!.of('batch_summary').filter((m) => m.batchId === batchId).at(-1);

describe('batch view', () => {
  it('counts running jobs as running as soon as they hold a slot, and paused ones apart', async () => {
    h = await harness([], { slotLimit: 2 });
    for (const id of ['V1', 'V2', 'V3', 'V4']) await h.provider.plug(h.device(id, { speed: 2 << 20 }));
    await until(() => h!.station.devices().filter((d) => d.state === 'idle').length === 4, 10_000, 'devices described');
    const img = h.image('batch.img', 6 << 20);
    const r = await h.station.startFlash({ deviceIds: ['V1', 'V2', 'V3', 'V4'], partition: 'boot', image: img.path });
    const id = r.batchId!;
    // One summary once all four are placed: two hold the slots, two wait. Never "0 running, 4 waiting".
    expect(h.of('batch_summary').filter((m) => m.batchId === id)).toHaveLength(1);
    expect(latest(id)).toMatchObject({ total: 4, running: 2, queued: 2, paused: 0 });
    const [first] = r.jobIds as [string];
    await h.waitFor('flash_started', (m) => m.jobId === first);
    expect(latest(id)).toMatchObject({ running: 2, queued: 2 });

    // Queue positions are in the jobs list (so in every snapshot), not only in flash_queued events.
    const queued = h.station.jobs().filter((j) => j.state === 'queued');
    expect(queued.map((j) => j.queuePosition).sort()).toEqual([1, 2]);

    h.station.pause(first);
    expect(latest(id)).toMatchObject({ running: 2, paused: 1, queued: 2 });
    // A reconnecting client sees the same counts in its snapshot.
    const snap = snapshotOf(h.station);
    expect(snap.batches?.find((b) => b.batchId === id)).toMatchObject({ type: 'batch_summary', running: 2, paused: 1, queued: 2, total: 4 });
    expect(snap.jobs.filter((j) => j.state === 'queued').every((j) => typeof j.queuePosition === 'number')).toBe(true);
    h.station.resume(first);
    expect(latest(id)).toMatchObject({ running: 2, paused: 0 });

    await h.waitFor('batch_summary', (m) => m.batchId === id && m.succeeded === 4, 60_000);
    expect(latest(id)).toMatchObject({ running: 0, queued: 0, paused: 0, succeeded: 4 });
  });

  it('gives back each job\'s log lines from history', async () => {
    h = await harness([], { retries: 1, retryDelayMs: 10 });
    await h.provider.plug(h.device('L1', { speed: 16 << 20, transientFailures: 1 }));
    await until(() => h!.station.devices().some((d) => d.id === 'L1' && d.state === 'idle'), 10_000, 'device described');
    const img = h.image('log.img', 2 << 20);
    const r = await h.station.startFlash({ deviceId: 'L1', partition: 'boot', image: img.path });
    await h.waitFor('flash_completed', (m) => m.jobId === r.jobId);
    // An ended job carries its average speed (what its card shows instead of a live speed).
    expect(h.station.job(r.jobId)?.averageSpeed).toBeGreaterThan(0);
    const live = h.of('flash_log', r.jobId).map((m) => m.message);
    expect(live.length).toBeGreaterThan(0);
    const logs = h.station.jobLogs?.([r.jobId, 'no-such-job'], 500) ?? {};
    expect(logs[r.jobId]?.map((l) => l.message)).toEqual(live);
    expect(logs['no-such-job']).toBeUndefined();
    expect(h.station.jobLogs?.([r.jobId], 1)[r.jobId]?.map((l) => l.message)).toEqual(live.slice(-1));
  });
});
