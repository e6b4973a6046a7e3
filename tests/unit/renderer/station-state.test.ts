// The UI's reducer: progress never goes back, finished jobs stay finished, cancel is told apart from failure,
// logs are capped, cleared jobs stay cleared across snapshots.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { clearAllJobs, clearJob, emptyState, MAX_LOG_LINES, reduce } from '../../../src/renderer/lib/station-state.js';
import type { ServerMessage } from '../../../src/protocol/messages.js';
import { device, job } from './ws-fixture.js';

const progress = (p: number, t = 10): ServerMessage => ({
  type: 'flash_progress', jobId: 'j', deviceId: 'D', progress: p, stage: 's', bytesTransferred: p, totalBytes: 100, transferSpeed: 1, estimatedTimeRemaining: 1, timestamp: t,
});

describe('station reducer', () => {
  it('never lets progress decrease, whatever order frames arrive in', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 100, noNaN: true }), { minLength: 1, maxLength: 40 }), (ps) => {
        let s = emptyState();
        let max = 0;
        for (const p of ps) {
          s = reduce(s, progress(p));
          max = Math.max(max, p);
          expect(s.jobs.get('j')?.progress).toBe(max);
        }
      }),
    );
  });

  it('keeps a finished job finished when a late progress frame arrives', () => {
    let s = reduce(emptyState(), progress(50));
    s = reduce(s, { type: 'flash_completed', jobId: 'j', deviceId: 'D', timestamp: 20 });
    const after = reduce(s, progress(60, 21));
    expect(after.jobs.get('j')?.state).toBe('completed');
    expect(after.jobs.get('j')?.progress).toBe(100);
  });

  it('tells a cancelled job from a failed one', () => {
    const base = reduce(emptyState(), progress(5));
    const cancelled = reduce(base, { type: 'flash_failed', jobId: 'j', deviceId: 'D', error: 'Cancelled', reason: 'cancelled', timestamp: 2 });
    const failed = reduce(base, { type: 'flash_failed', jobId: 'j', deviceId: 'D', error: 'USB connection lost', code: 'disconnected', timestamp: 2 });
    expect(cancelled.jobs.get('j')?.state).toBe('cancelled');
    expect(failed.jobs.get('j')?.state).toBe('failed');
    expect(failed.jobs.get('j')?.errorCode).toBe('disconnected');
    // The guide's plain flash_failed (no reason) is a failure.
    expect(reduce(base, { type: 'flash_failed', jobId: 'j', deviceId: 'D', error: 'x', timestamp: 2 }).jobs.get('j')?.state).toBe('failed');
  });

  it('keeps what a cancel left behind (detail) as the job error, as the snapshot Job does after a reload', () => {
    const base = reduce(emptyState(), progress(5));
    const detail = 'Cancelled: the download of boot was left half-sent at byte 4096';
    const s = reduce(base, { type: 'flash_failed', jobId: 'j', deviceId: 'D', error: 'Cancelled', reason: 'cancelled', detail, timestamp: 2 });
    expect(s.jobs.get('j')).toMatchObject({ state: 'cancelled', stage: 'Cancelled', error: detail });
  });

  it('pauses and resumes, and a progress frame in flight does not undo a pause', () => {
    let s = reduce(emptyState(), progress(10));
    s = reduce(s, { type: 'flash_paused', jobId: 'j', deviceId: 'D', timestamp: 3 });
    s = reduce(s, progress(12));
    expect(s.jobs.get('j')?.state).toBe('paused');
    s = reduce(s, { type: 'flash_resumed', jobId: 'j', deviceId: 'D', timestamp: 4 });
    expect(s.jobs.get('j')?.state).toBe('running');
  });

  it('records queue positions and the started totals', () => {
    let s = reduce(emptyState(), { type: 'flash_queued', jobId: 'q', deviceId: 'D', position: 3, timestamp: 1 });
    expect(s.jobs.get('q')).toMatchObject({ state: 'queued', queuePosition: 3 });
    s = reduce(s, { type: 'flash_started', jobId: 'q', deviceId: 'D', stage: 'Initializing', totalBytes: 4096, imageBytes: 8192, timestamp: 2 });
    expect(s.jobs.get('q')).toMatchObject({ state: 'running', totalBytes: 4096, imageBytes: 8192, startedAt: 2, queuePosition: undefined });
  });

  it('caps logs per job', () => {
    let s = emptyState();
    for (let i = 0; i < MAX_LOG_LINES + 25; i++) s = reduce(s, { type: 'flash_log', jobId: 'j', deviceId: 'D', level: 'info', message: `line ${i}`, timestamp: i });
    const lines = s.logs.get('j') ?? [];
    expect(lines).toHaveLength(MAX_LOG_LINES);
    expect(lines[0]?.message).toBe('line 25');
  });

  it('tracks devices attaching, updating and detaching', () => {
    let s = reduce(emptyState(), { type: 'device_attached', device: device('A'), timestamp: 1 });
    s = reduce(s, { type: 'device_updated', device: device('A', 'busy'), timestamp: 2 });
    expect(s.devices.get('A')?.state).toBe('busy');
    s = reduce(s, { type: 'device_detached', deviceId: 'A', timestamp: 3 });
    expect(s.devices.size).toBe(0);
  });

  it('clearJob and clearAllJobs hide finished jobs across later snapshots, but not active ones', () => {
    const snap = (jobs: ReturnType<typeof job>[]): ServerMessage => ({ type: 'snapshot', devices: [], jobs, timestamp: 5 });
    let s = reduce(emptyState(), snap([job('done', 'D', { state: 'completed' }), job('run', 'D')]));
    s = clearJob(s, 'done');
    s = clearJob(s, 'run');
    s = reduce(s, snap([job('done', 'D', { state: 'completed' }), job('run', 'D')]));
    expect(s.jobs.has('done')).toBe(false);
    expect(s.jobs.has('run')).toBe(true);
    s = reduce(s, snap([job('f', 'D', { state: 'failed' })]));
    s = clearAllJobs(s);
    expect(s.jobs.size).toBe(0);
    s = reduce(s, snap([job('f', 'D', { state: 'failed' })]));
    expect(s.jobs.size).toBe(0);
  });

  it('marks a job it saw running as interrupted when a restarted station no longer knows it', () => {
    let s = reduce(emptyState(), { type: 'snapshot', devices: [], jobs: [job('r', 'D'), job('c', 'D', { state: 'completed' })], timestamp: 1 });
    s = reduce(s, { type: 'hello', protocol: 'flash-station/1', version: '1', authenticated: true, timestamp: 2 });
    s = reduce(s, { type: 'snapshot', devices: [], jobs: [], timestamp: 3 });
    expect(s.jobs.get('r')).toMatchObject({ state: 'failed', errorCode: 'interrupted', endedAt: 3 });
    expect(s.jobs.get('c')?.state).toBe('completed');
  });

  it('keeps the latest summary per batch', () => {
    const b = { type: 'batch_summary', batchId: 'b1', total: 3, succeeded: 0, failed: 0, cancelled: 0, running: 3, queued: 0, timestamp: 1 } as const;
    let s = reduce(emptyState(), b);
    s = reduce(s, { ...b, succeeded: 2, failed: 1, running: 0, timestamp: 2 });
    expect(s.batches.size).toBe(1);
    expect(s.batches.get('b1')).toMatchObject({ succeeded: 2, failed: 1, running: 0 });
    expect(clearAllJobs(s).batches.size).toBe(0);
  });
});
