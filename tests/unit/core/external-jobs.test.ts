// Outside agents' job events: checked, folded into a job record, kept in history; a station job cannot be named.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ExternalJobs } from '../../../src/core/external-jobs.js';
import { History } from '../../../src/core/history.js';
import type { FlashEventMessage } from '../../../src/protocol/messages.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(stationJobs: string[] = []): { ext: ExternalJobs; history: History } {
  const dir = mkdtempSync(join(tmpdir(), 'fs-ext-'));
  dirs.push(dir);
  const history = new History(dir);
  return { ext: new ExternalJobs(history, (id) => stationJobs.includes(id)), history };
}

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
});
