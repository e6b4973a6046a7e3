// The client's reducer: snapshot replaces, events update devices and jobs, cancelled is told from failed, and the
// progress it shows never goes back whatever order progress frames arrive in.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyMessage, emptyState, isFinished, MAX_FINISHED_JOBS, reduce } from '../../../src/client/job-state.js';
import type { Device, FlashProgressMessage } from '../../../src/protocol/messages.js';

const device: Device = { id: 'D1', protocol: 'fastboot', transport: 'usb', name: 'Pixel', serial: 'D1', state: 'idle', info: {} };
const progress = (p: number): FlashProgressMessage => ({
  type: 'flash_progress', jobId: 'j', deviceId: 'D1', progress: p, stage: 'Writing', bytesTransferred: p, totalBytes: 100,
  transferSpeed: 1, estimatedTimeRemaining: 1, timestamp: 1,
});

describe('applyMessage', () => {
  it('follows a job from queued to completed and a device from attached to detached', () => {
    const s = emptyState();
    applyMessage(s, { type: 'snapshot', devices: [device], jobs: [], timestamp: 1 });
    expect(s.devices.get('D1')?.state).toBe('idle');
    applyMessage(s, { type: 'device_updated', device: { ...device, state: 'busy' }, timestamp: 2 });
    expect(s.devices.get('D1')?.state).toBe('busy');
    applyMessage(s, { type: 'flash_queued', jobId: 'j', deviceId: 'D1', position: 1, timestamp: 3 });
    expect(s.jobs.get('j')?.state).toBe('queued');
    applyMessage(s, { type: 'flash_started', jobId: 'j', deviceId: 'D1', stage: 'Initializing', totalBytes: 100, timestamp: 4 });
    expect(s.jobs.get('j')).toMatchObject({ state: 'running', totalBytes: 100, startedAt: 4 });
    applyMessage(s, progress(40));
    applyMessage(s, { type: 'flash_paused', jobId: 'j', deviceId: 'D1', timestamp: 5 });
    expect(s.jobs.get('j')?.state).toBe('paused');
    applyMessage(s, { type: 'flash_resumed', jobId: 'j', deviceId: 'D1', timestamp: 6 });
    applyMessage(s, { type: 'flash_completed', jobId: 'j', deviceId: 'D1', timestamp: 7 });
    expect(s.jobs.get('j')).toMatchObject({ state: 'completed', progress: 100, endedAt: 7 });
    expect(isFinished(s.jobs.get('j')!)).toBe(true);
    applyMessage(s, { type: 'device_detached', deviceId: 'D1', timestamp: 8 });
    expect(s.devices.size).toBe(0);
  });

  it('tells cancelled from failed, and picks up jobs it first hears of mid-way', () => {
    const s = emptyState();
    applyMessage(s, { type: 'flash_failed', jobId: 'a', deviceId: 'D1', error: 'Cancelled', reason: 'cancelled', timestamp: 1 });
    applyMessage(s, { type: 'flash_failed', jobId: 'b', deviceId: 'D1', error: 'USB connection lost', code: 'disconnected', timestamp: 1 });
    expect(s.jobs.get('a')).toMatchObject({ state: 'cancelled', error: 'Cancelled' });
    const detail = 'Cancelled — the download of boot was left half-sent at byte 4096 of 8192 (timeout)';
    applyMessage(s, { type: 'flash_failed', jobId: 'h', deviceId: 'D1', error: 'Cancelled', reason: 'cancelled', detail, timestamp: 1 });
    expect(s.jobs.get('h')).toMatchObject({ state: 'cancelled', stage: 'Cancelled', error: detail });
    expect(s.jobs.get('b')).toMatchObject({ state: 'failed', error: 'USB connection lost', errorCode: 'disconnected' });
    expect(applyMessage(s, { type: 'pong', timestamp: 1 })).toBe(false);
  });

  it('keeps a queued job\'s place until it starts, and ends with the stage the station records', () => {
    const s = emptyState();
    applyMessage(s, { type: 'flash_queued', jobId: 'q', deviceId: 'D1', position: 2, timestamp: 1 });
    expect(s.jobs.get('q')).toMatchObject({ state: 'queued', queuePosition: 2 });
    applyMessage(s, { type: 'flash_queued', jobId: 'q', deviceId: 'D1', position: 1, timestamp: 2 });
    expect(s.jobs.get('q')?.queuePosition).toBe(1);
    applyMessage(s, { type: 'flash_started', jobId: 'q', deviceId: 'D1', stage: 'Writing boot', totalBytes: 10, timestamp: 3 });
    expect(s.jobs.get('q')?.queuePosition).toBeUndefined();
    applyMessage(s, { type: 'flash_completed', jobId: 'q', deviceId: 'D1', timestamp: 4 });
    expect(s.jobs.get('q')).toMatchObject({ stage: 'Completed', transferSpeed: 0 });
    applyMessage(s, { type: 'flash_queued', jobId: 'c', deviceId: 'D1', position: 1, timestamp: 5 });
    applyMessage(s, { type: 'flash_failed', jobId: 'c', deviceId: 'D1', error: 'Cancelled', reason: 'cancelled', timestamp: 6 });
    expect(s.jobs.get('c')).toMatchObject({ state: 'cancelled', stage: 'Cancelled' });
    expect(s.jobs.get('c')?.queuePosition).toBeUndefined();
    applyMessage(s, { type: 'flash_failed', jobId: 'f', deviceId: 'D1', error: 'USB connection lost', timestamp: 7 });
    expect(s.jobs.get('f')?.stage).toBe('Failed: USB connection lost');
  });

  it('keeps each batch\'s latest summary, from the snapshot and then batch_summary events', () => {
    const s = emptyState();
    const counts = { total: 3, succeeded: 0, failed: 0, cancelled: 0, running: 2, queued: 1, paused: 1 };
    applyMessage(s, { type: 'snapshot', devices: [], jobs: [], timestamp: 1, batches: [{ type: 'batch_summary', batchId: 'b1', ...counts, timestamp: 1 }] });
    expect(s.batches.get('b1')).toMatchObject({ running: 2, paused: 1 });
    expect(applyMessage(s, { type: 'batch_summary', batchId: 'b1', ...counts, running: 0, queued: 0, paused: 0, succeeded: 2, failed: 1, timestamp: 2 })).toBe(true);
    expect(s.batches.get('b1')).toMatchObject({ succeeded: 2, failed: 1, running: 0 });
    // One reducer for the SDK and the UI: a finished batch stays known after a snapshot that no longer lists it (as
    // finished jobs do); a running one the station no longer lists is dropped.
    applyMessage(s, { type: 'batch_summary', batchId: 'b2', ...counts, timestamp: 2 });
    applyMessage(s, { type: 'snapshot', devices: [], jobs: [], batches: [], timestamp: 3 });
    expect([...s.batches.keys()]).toEqual(['b1']);
  });

  it('never shows progress going back', () => {
    fc.assert(fc.property(fc.array(fc.double({ min: 0, max: 100, noNaN: true }), { minLength: 1, maxLength: 50 }), (values) => {
      const s = emptyState();
      let shown = 0;
      for (const v of values) {
        applyMessage(s, progress(v));
        const now = s.jobs.get('j')!.progress;
        expect(now).toBeGreaterThanOrEqual(shown);
        shown = now;
      }
      expect(shown).toBe(Math.max(...values));
    }));
  });
});

describe('reduce over a long run', () => {
  it('keeps the newest MAX_FINISHED_JOBS finished jobs and their logs, never a running one', () => {
    let s = reduce(emptyState(), { type: 'flash_started', jobId: 'live', deviceId: 'D1', stage: 's', totalBytes: 1, timestamp: 0 });
    for (let i = 0; i < MAX_FINISHED_JOBS + 30; i++) {
      s = reduce(s, { type: 'flash_log', jobId: `j${i}`, deviceId: 'D1', level: 'info', message: 'x', timestamp: i + 1 });
      s = reduce(s, { type: 'flash_completed', jobId: `j${i}`, deviceId: 'D1', timestamp: i + 1 });
    }
    expect(s.jobs.size).toBe(MAX_FINISHED_JOBS + 1);
    expect(s.jobs.has('live')).toBe(true);
    expect(s.jobs.has('j29')).toBe(false);
    expect(s.jobs.has('j30')).toBe(true);
    expect(s.logs.has('j29')).toBe(false);
    expect(s.logs.has(`j${MAX_FINISHED_JOBS + 29}`)).toBe(true);
  });
});
