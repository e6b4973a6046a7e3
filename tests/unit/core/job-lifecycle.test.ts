// JobLifecycle: a job ends once, with the contract's final event, whatever the history store does; then its device is freed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { FlashError } from '../../../src/core/errors.js';
import { History } from '../../../src/core/history.js';
import { ActiveJob } from '../../../src/core/job.js';
import { JobLifecycle, type LifecycleDeps } from '../../../src/core/job-lifecycle.js';
import type { JobStore } from '../../../src/core/job-record.js';
import type { JobSpec } from '../../../src/core/job-spec.js';
import type { ServerMessage } from '../../../src/protocol/messages.js';
import { FakeClock } from './fake-clock.js';

const spec = (): JobSpec => ({ deviceId: 'D1', target: 't', steps: [], planJson: '{}', release: async () => undefined });

function running(id = 'j1'): ActiveJob {
  const job = new ActiveJob(id, spec(), null, new FakeClock());
  job.state = 'running';
  return job;
}

interface Rig {
  lifecycle: JobLifecycle;
  events: ServerMessage[];
  calls: string[];
  store: JobStore & { rows: Array<Record<string, unknown>> };
}

function rig(failing = false): Rig {
  const events: ServerMessage[] = [];
  const calls: string[] = [];
  const rows: Array<Record<string, unknown>> = [];
  const fail = (): void => {
    if (failing) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
  };
  const store = {
    rows,
    insert: vi.fn(() => fail()),
    update: vi.fn((_id: string, fields: Record<string, unknown>) => {
      fail();
      calls.push('history');
      rows.push(fields);
    }),
    log: vi.fn(() => fail()),
    stageStarted: vi.fn(() => fail()),
    stageEnded: vi.fn(() => fail()),
  };
  const deps: LifecycleDeps = {
    store,
    emit: (m) => {
      events.push(m);
      if (m.type === 'flash_completed' || m.type === 'flash_failed') calls.push('event');
    },
    free: (job, lockedId) => calls.push(`free ${job.jobId} ${lockedId}`),
    ended: (job, ran) => calls.push(`ended ${job.jobId} ${ran}`),
  };
  return { lifecycle: new JobLifecycle(deps), events, calls, store };
}

const finals = (events: ServerMessage[]): ServerMessage[] => events.filter((e) => e.type === 'flash_completed' || e.type === 'flash_failed');

describe('JobLifecycle.end', () => {
  it('completes: history first, then flash_completed, then the device is freed, then bookkeeping', () => {
    const r = rig();
    const job = running();
    expect(r.lifecycle.end(job, { state: 'completed' }, { ran: true, lockedId: 'USB1' })).toBe(true);
    expect(job.state).toBe('completed');
    expect(r.calls).toEqual(['history', 'event', 'free j1 USB1', 'ended j1 true']);
    expect(finals(r.events)).toEqual([{ type: 'flash_completed', jobId: 'j1', deviceId: 'D1', timestamp: expect.any(Number) }]);
    expect(r.store.rows.at(-1)).toMatchObject({ state: 'completed', result: 'completed', error: null });
  });

  it('ends a job once: a second end sends nothing and frees nothing', () => {
    const r = rig();
    const job = running();
    r.lifecycle.end(job, { state: 'cancelled' }, { ran: true, lockedId: 'X' });
    expect(r.lifecycle.end(job, { state: 'failed', error: new FlashError('timeout', 'late') }, { ran: true, lockedId: 'X' })).toBe(false);
    expect(finals(r.events)).toHaveLength(1);
    expect(r.calls.filter((c) => c.startsWith('free'))).toHaveLength(1);
    expect(job.state).toBe('cancelled');
  });

  it('a cancel is flash_failed with error "Cancelled", reason cancelled, and what it left behind as detail and job error', () => {
    const r = rig();
    const job = running();
    const detail = 'Cancelled — the download of boot was left half-sent at byte 4096';
    r.lifecycle.end(job, { state: 'cancelled', detail }, { ran: true, lockedId: 'X' });
    expect(finals(r.events)[0]).toMatchObject({ type: 'flash_failed', error: 'Cancelled', reason: 'cancelled', code: 'cancelled', detail });
    expect(job.snapshot()).toMatchObject({ state: 'cancelled', error: detail, errorCode: 'cancelled', stage: 'Cancelled' });
  });

  it('a failure carries its code, and FlashError.detail goes to flash_failed.detail and the job error', () => {
    const r = rig();
    const job = running();
    const error = new FlashError('device_rejected', 'The device refused the write — replug it and retry.', { detail: 'dfu status errWRITE' });
    r.lifecycle.end(job, { state: 'failed', error }, { ran: true, lockedId: 'X' });
    expect(finals(r.events)[0]).toMatchObject({
      type: 'flash_failed', reason: 'error', code: 'device_rejected', error: error.message, detail: 'dfu status errWRITE',
    });
    expect(job.snapshot()).toMatchObject({ errorCode: 'device_rejected', error: `${error.message} (dfu status errWRITE)` });
    // A job that ran logs its error line before the final event.
    const types = r.events.map((e) => e.type);
    expect(types.indexOf('flash_log')).toBeLessThan(types.indexOf('flash_failed'));
  });

  it('a queued job that ends frees no device and logs nothing', () => {
    const r = rig();
    const job = new ActiveJob('q', spec(), null, new FakeClock());
    r.lifecycle.end(job, { state: 'failed', error: new FlashError('device_not_found', 'never came') }, { ran: false });
    expect(r.calls).toEqual(['history', 'event', 'ended q false']);
    expect(r.events.map((e) => e.type)).toEqual(['flash_failed']);
  });

  it.each([
    ['completed', { state: 'completed' } as const, 'flash_completed'],
    ['failed', { state: 'failed', error: new FlashError('timeout', 'no answer') } as const, 'flash_failed'],
    ['cancelled', { state: 'cancelled' } as const, 'flash_failed'],
  ])('a store that throws on every write: the %s job still sends its final event and frees its device', (_name, outcome, type) => {
    const r = rig(true);
    const job = running();
    r.lifecycle.record(job).stageStarted(0, 'Writing boot');
    expect(() => r.lifecycle.end(job, outcome, { ran: true, lockedId: 'X' })).not.toThrow();
    expect(finals(r.events).map((e) => e.type)).toEqual([type]);
    expect(r.calls).toEqual(['event', 'free j1 X', 'ended j1 true']);
    // One warning for the job, not one per failed write.
    const warnings = r.events.filter((e) => e.type === 'flash_log' && e.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ message: expect.stringMatching(/History could not record .*database or disk is full/) });
  });

  it('a real full database (SQLITE_FULL from SQLite itself): the job that could not be recorded still ends', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fs-full-'));
    const history = new History(dir);
    try {
      // Cap the file at a few pages more than it has, then fill it: from there on every new row is SQLITE_FULL.
      const pages = history.db.pragma('page_count', { simple: true }) as number;
      history.db.pragma(`max_page_count = ${pages + 4}`);
      const row = (id: string): Parameters<History['insert']>[0] => ({ job_id: id, device_id: 'D1', state: 'running', created_at: 1, stage: 'x'.repeat(1500) });
      let fault: unknown;
      for (let i = 0; fault === undefined && i < 1000; i++) {
        try {
          history.insert(row(`fill${i}`));
        } catch (e) {
          fault = e;
        }
      }
      expect(fault).toMatchObject({ code: 'SQLITE_FULL' });
      const events: ServerMessage[] = [];
      const lifecycle = new JobLifecycle({ store: history, emit: (m) => events.push(m), free: () => undefined, ended: () => undefined });
      const job = running('full');
      lifecycle.record(job).insert(row('full'));
      lifecycle.log(job, 'info', 'y'.repeat(4000));
      expect(() => lifecycle.end(job, { state: 'completed' }, { ran: true, lockedId: 'X' })).not.toThrow();
      expect(finals(events)).toEqual([expect.objectContaining({ type: 'flash_completed', jobId: 'full' })]);
      expect(events.filter((e) => e.type === 'flash_log' && e.level === 'warn')).toEqual([
        expect.objectContaining({ message: expect.stringMatching(/History could not record the new job \(database or disk is full\)/) }),
      ]);
    } finally {
      history.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
