// A page that reloads or reconnects mid-batch gets back what it showed: the batch bar (from the snapshot's batches),
// each queued job's place in the queue, and each job's log lines (get_job_logs from the station's history).
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { StationConnection, type WebSocketFactory } from '../../../src/renderer/lib/station-connection.js';
import { emptyState, mergeLogs, reduce } from '../../../src/renderer/lib/station-state.js';
import type { BatchSummaryMessage } from '../../../src/protocol/messages.js';
import { StationFixture, device, job, until } from './ws-fixture.js';

const open: StationConnection[] = [];
const fixtures: StationFixture[] = [];
afterEach(async () => {
  for (const c of open.splice(0)) c.disconnect();
  for (const fx of fixtures.splice(0)) await fx.stop();
});

const batch: BatchSummaryMessage = {
  type: 'batch_summary', batchId: 'B', total: 3, succeeded: 0, failed: 0, cancelled: 0, running: 2, paused: 1, queued: 1, timestamp: 5,
};

describe('state after a reload', () => {
  it('restores batches, queue positions and logs from the station', async () => {
    const fx = new StationFixture({
      devices: [device('D1'), device('D2'), device('D3')],
      jobs: [job('j1', 'D1', { batchId: 'B' }), job('j2', 'D2', { batchId: 'B', state: 'paused' }), job('j3', 'D3', { batchId: 'B', state: 'queued', queuePosition: 1 })],
      batches: [batch],
      logs: { j1: [{ timestamp: 3, level: 'warn', message: 'USB reset — retrying' }] },
    });
    fixtures.push(fx);
    await fx.start();
    const c = new StationConnection({ url: fx.url, WebSocket: WebSocket as unknown as WebSocketFactory, schedule: (f) => setTimeout(f, 0), pingInterval: 0 });
    open.push(c);
    c.connect();
    await until(() => (c.getSnapshot().station.logs.get('j1')?.length ?? 0) > 0, 'logs fetched');
    const s = c.getSnapshot().station;
    expect(s.batches.get('B')).toMatchObject({ running: 2, paused: 1, queued: 1, total: 3 });
    expect(s.jobs.get('j3')?.queuePosition).toBe(1);
    expect(s.logs.get('j1')).toEqual([{ timestamp: 3, level: 'warn', message: 'USB reset — retrying' }]);
    expect(fx.received.find((m) => m.type === 'get_job_logs')).toMatchObject({ jobIds: ['j1', 'j2', 'j3'] });
    // A dismissed batch stays dismissed when the next snapshot comes.
    c.clearBatch('B');
    fx.broadcast({ type: 'snapshot', devices: [], jobs: [], batches: [batch], timestamp: 9 });
    await until(() => c.getSnapshot().station.devices.size === 0, 'second snapshot');
    expect(c.getSnapshot().station.batches.has('B')).toBe(false);
  });

  it('merges fetched lines with live ones without doubling them', () => {
    let s = reduce(emptyState(), { type: 'snapshot', devices: [], jobs: [job('j', 'D')], timestamp: 1 });
    s = reduce(s, { type: 'flash_log', jobId: 'j', deviceId: 'D', level: 'info', message: 'live', timestamp: 20 });
    s = mergeLogs(s, { j: [{ timestamp: 10, level: 'info', message: 'old' }, { timestamp: 20, level: 'info', message: 'live' }], gone: [{ timestamp: 1, level: 'info', message: 'x' }] });
    expect(s.logs.get('j')?.map((l) => l.message)).toEqual(['old', 'live']);
    expect(s.logs.has('gone')).toBe(false);
  });
});

describe('batch line', () => {
  it('does not call a paused job writing', async () => {
    const { batchLine } = await import('../../../src/renderer/components/batch-bar.js');
    expect(batchLine(batch)).toBe('Batch of 3: 0 done, 1 writing, 1 paused, 1 waiting');
    expect(batchLine({ ...batch, running: 0, paused: 0, queued: 0, succeeded: 2, failed: 1 })).toBe('Batch of 3: 2 done, 1 failed');
  });
});
