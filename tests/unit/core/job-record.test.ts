// JobRecord: one job's history writes; a failing store is reported once and never thrown; log lines are capped.
import { describe, expect, it, vi } from 'vitest';
import { JobRecord, MAX_LOG_ROWS, type JobStore } from '../../../src/core/job-record.js';

function store(fail: (what: string) => boolean = () => false): JobStore & { log: ReturnType<typeof vi.fn> } {
  const maybe = (what: string) => () => {
    if (fail(what)) throw new Error(`SQLITE_CORRUPT: database disk image is malformed (${what})`);
  };
  return { insert: vi.fn(maybe('insert')), update: vi.fn(maybe('update')), log: vi.fn(maybe('log')), stageStarted: vi.fn(maybe('stage')), stageEnded: vi.fn(maybe('stage')) };
}

describe('JobRecord', () => {
  it('writes through to the store under its job id', () => {
    const s = store();
    const faults: string[] = [];
    const r = new JobRecord(s, 'J', (m) => faults.push(m));
    r.update({ stage: 'x' });
    r.stageStarted(0, 'Writing', 5);
    r.stageEnded(0, 100, 9);
    expect(s.update).toHaveBeenCalledWith('J', { stage: 'x' });
    expect(s.stageStarted).toHaveBeenCalledWith('J', 0, 'Writing', 5);
    expect(s.stageEnded).toHaveBeenCalledWith('J', 0, 9, 100);
    expect(faults).toEqual([]);
    expect(r.incomplete).toBe(false);
  });

  it('catches a failing write, reports the first fault once, and keeps trying later writes', () => {
    let broken = true;
    const s = store(() => broken);
    const faults: string[] = [];
    const r = new JobRecord(s, 'J', (m) => faults.push(m));
    expect(() => r.update({ stage: 'a' })).not.toThrow();
    expect(() => r.log('info', 'x')).not.toThrow();
    expect(faults).toHaveLength(1);
    expect(faults[0]).toMatch(/History could not record the job \(SQLITE_CORRUPT.*\); the job goes on/);
    expect(r.incomplete).toBe(true);
    broken = false;
    r.update({ stage: 'b' });
    expect(s.update).toHaveBeenLastCalledWith('J', { stage: 'b' });
    expect(faults).toHaveLength(1);
  });

  it(`keeps ${MAX_LOG_ROWS} log lines, then one line saying the rest were not kept`, () => {
    const s = store();
    const r = new JobRecord(s, 'J', () => undefined);
    for (let i = 0; i < MAX_LOG_ROWS + 50; i++) r.log('info', `l${i}`, i);
    expect(s.log).toHaveBeenCalledTimes(MAX_LOG_ROWS + 1);
    expect(s.log).toHaveBeenLastCalledWith('J', MAX_LOG_ROWS, 'warn', 'Further log lines were not kept.');
  });
});
