// Outside agents' job events: checked, folded into a job record, kept in history; a station job cannot be named.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ExternalJobs, MAX_STAGE, rebuildEvent, type ExternalJobsOptions } from '../../../src/core/external-jobs.js';
import { History } from '../../../src/core/history.js';
import type { FlashEventMessage, ServerMessage } from '../../../src/protocol/messages.js';
import { FakeClock } from './fake-clock.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(stationJobs: string[] = [], options: ExternalJobsOptions = {}): { ext: ExternalJobs; history: History } {
  const dir = mkdtempSync(join(tmpdir(), 'fs-ext-'));
  dirs.push(dir);
  const history = new History(dir);
  return { ext: new ExternalJobs(history, (id) => stationJobs.includes(id), options), history };
}

const started = (jobId: string, extra: Record<string, unknown> = {}): FlashEventMessage =>
  ({ type: 'flash_started', jobId, deviceId: 'd', stage: 'Writing', totalBytes: 10, timestamp: 1, ...extra });

describe('ExternalJobs', () => {
  it('follows a job from started to failed and records it', () => {
    const { ext, history } = setup();
    ext.accept({ type: 'flash_started', jobId: 'e1', deviceId: 'd', stage: 'Writing', totalBytes: 1000, timestamp: 1 });
    ext.accept({ type: 'flash_paused', jobId: 'e1', deviceId: 'd', timestamp: 2 });
    expect(ext.get('e1')?.state).toBe('paused');
    ext.accept({ type: 'flash_resumed', jobId: 'e1', deviceId: 'd', timestamp: 3 });
    ext.accept({ type: 'flash_failed', jobId: 'e1', deviceId: 'd', error: 'Cancelled', reason: 'cancelled', timestamp: 4 });
    expect(ext.get('e1')).toMatchObject({ state: 'cancelled', error: 'Cancelled', totalBytes: 1000 });
    expect(history.row('e1')).toMatchObject({ external: 1, state: 'cancelled', total_bytes: 1000 });
    history.close();
  });

  it('refuses station jobs, bad ids, other event types and a job moving to another device', () => {
    const { ext, history } = setup(['station-job']);
    expect(() => ext.accept({ type: 'flash_completed', jobId: 'station-job', deviceId: 'd', timestamp: 1 })).toThrow(/station itself/);
    expect(() => ext.accept({ type: 'flash_completed', jobId: 'x'.repeat(200), deviceId: 'd', timestamp: 1 })).toThrow(/jobId/);
    expect(() => ext.accept({ type: 'pong', timestamp: 1 } as unknown as FlashEventMessage)).toThrow(/flash_/);
    ext.accept({ type: 'flash_completed', jobId: 'e2', deviceId: 'd1', timestamp: 1 });
    expect(() => ext.accept({ type: 'flash_completed', jobId: 'e2', deviceId: 'd2', timestamp: 1 })).toThrow(/device d1/);
    expect(history.has('station-job')).toBe(false);
    history.close();
  });

  it('clamps progress and fills in a missing timestamp', () => {
    const { ext, history } = setup();
    const out = ext.accept({ type: 'flash_progress', jobId: 'e3', deviceId: 'd', progress: 250, stage: 's', bytesTransferred: 5, totalBytes: 10, transferSpeed: 1, estimatedTimeRemaining: 1 } as FlashEventMessage);
    expect(out.timestamp).toBeGreaterThan(0);
    expect(ext.get('e3')?.progress).toBe(100);
    history.close();
  });

  it('rebuilds each event from the contract fields: extra keys, deep nesting and long text never go out', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 3000; i++) deep = { x: deep };
    const out = rebuildEvent(started('e4', { extra: deep, stage: 's'.repeat(900 * 1024), totalBytes: -5, imageBytes: Number.NaN }), 42);
    expect(Object.keys(out).sort()).toEqual(['deviceId', 'imageBytes', 'jobId', 'stage', 'timestamp', 'totalBytes', 'type']);
    expect(out).toMatchObject({ totalBytes: 0, imageBytes: 0, timestamp: 1 });
    expect((out as { stage: string }).stage).toHaveLength(MAX_STAGE);
    expect(() => JSON.stringify(out)).not.toThrow();
    const failed = rebuildEvent({ type: 'flash_failed', jobId: 'e4', deviceId: 'd', error: 'x', code: 'not a code', reason: 'bogus', timestamp: 0 } as unknown as FlashEventMessage, 42);
    expect(failed).toEqual({ type: 'flash_failed', jobId: 'e4', deviceId: 'd', error: 'x', timestamp: 42 });
  });

  it('refuses events for a job that already ended, so a late progress frame cannot revive it', () => {
    const { ext, history } = setup();
    ext.accept(started('e5'));
    ext.accept({ type: 'flash_completed', jobId: 'e5', deviceId: 'd', timestamp: 2 });
    expect(() => ext.accept({ type: 'flash_progress', jobId: 'e5', deviceId: 'd', progress: 5, stage: 's', bytesTransferred: 1, totalBytes: 10, transferSpeed: 1, estimatedTimeRemaining: 1, timestamp: 3 })).toThrow(/already ended/);
    expect(ext.get('e5')?.state).toBe('completed');
    // Also after a restart, from history alone.
    const again = new ExternalJobs(history, () => false);
    expect(() => again.accept(started('e5'))).toThrow(/already ended/);
    expect(history.row('e5')?.state).toBe('completed');
    history.close();
  });

  it('a history that fails on every write (a full disk): final events still go out, with one warning per job', async () => {
    const clock = new FakeClock();
    const emitted: ServerMessage[] = [];
    const { ext, history } = setup([], { clock, silenceMs: 60_000, emit: (m) => emitted.push(m) });
    ext.accept(started('done'));
    ext.accept(started('quiet'));
    history.db.exec(`
      CREATE TRIGGER full_ins BEFORE INSERT ON jobs BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;
      CREATE TRIGGER full_upd BEFORE UPDATE ON jobs BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;`);
    // The publisher's final event is accepted and handed back for broadcast; a new job starts all the same.
    expect(ext.accept({ type: 'flash_completed', jobId: 'done', deviceId: 'd', timestamp: 5 })).toMatchObject({ type: 'flash_completed', jobId: 'done' });
    expect(ext.accept(started('late'))).toMatchObject({ type: 'flash_started', jobId: 'late' });
    // The silence sweep (a timer) ends the quiet ones as lost without throwing, and says so.
    await clock.advance(61_000);
    expect(ext.get('quiet')).toMatchObject({ state: 'failed', errorCode: 'lost' });
    const finals = emitted.filter((m) => m.type === 'flash_failed').map((m) => 'jobId' in m && m.jobId);
    expect(finals.sort()).toEqual(['late', 'quiet']);
    const warnings = emitted.filter((m) => m.type === 'flash_log');
    expect(warnings.map((m) => 'jobId' in m && m.jobId).sort()).toEqual(['done', 'late', 'quiet']);
    expect(warnings[0]).toMatchObject({ level: 'warn', message: expect.stringMatching(/History could not record .*database or disk is full/) });
    expect(history.row('done')?.state).toBe('running');
    ext.close();
    history.close();
  });

  it('ends a silent outside job as lost, with a flash_failed the clients see', async () => {
    const clock = new FakeClock();
    const emitted: ServerMessage[] = [];
    const { ext, history } = setup([], { clock, silenceMs: 60_000, emit: (m) => emitted.push(m) });
    ext.accept(started('quiet'));
    ext.accept(started('chatty'));
    for (let t = 0; t < 4; t++) {
      await clock.advance(20_000);
      ext.accept({ type: 'flash_resumed', jobId: 'chatty', deviceId: 'd', timestamp: 2 });
    }
    expect(ext.get('quiet')).toMatchObject({ state: 'failed', errorCode: 'lost' });
    expect(ext.get('chatty')?.state).toBe('running');
    expect(emitted).toEqual([expect.objectContaining({ type: 'flash_failed', jobId: 'quiet', code: 'lost', reason: 'error' })]);
    expect(history.row('quiet')).toMatchObject({ state: 'failed', error_code: 'lost' });
    ext.close();
    history.close();
  });

  it('caps running outside jobs per publisher and in all, and keeps a bounded number of ended ones', () => {
    const { ext, history } = setup([], { maxPerPublisher: 3, maxActive: 5, maxEnded: 2 });
    for (let i = 0; i < 3; i++) ext.accept(started(`a${i}`), 'conn-a');
    expect(() => ext.accept(started('a3'), 'conn-a')).toThrow(/at most 3/);
    ext.accept(started('b0'), 'conn-b');
    ext.accept(started('b1'), 'conn-b');
    expect(() => ext.accept(started('b2'), 'conn-b')).toThrow(/at most 5/);
    for (let i = 0; i < 3; i++) ext.accept({ type: 'flash_completed', jobId: `a${i}`, deviceId: 'd', timestamp: 2 }, 'conn-a');
    expect(ext.active).toBe(2);
    expect(ext.list().filter((j) => j.state === 'completed')).toHaveLength(2);
    ext.accept(started('a3'), 'conn-a');
    ext.close();
    history.close();
  });
});
