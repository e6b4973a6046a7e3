// The gate in front of heavy HTTP answers: at most `concurrent` run, `queued` wait in order, the rest are refused.
import { describe, expect, it } from 'vitest';
import { createHeavyGate } from '../../../src/server/heavy-gate.js';

describe('createHeavyGate', () => {
  it('runs two, queues three in order, refuses the sixth with rate_limited, and frees places as work ends', async () => {
    const gate = createHeavyGate({ concurrent: 2, queued: 3 });
    const started: number[] = [];
    const finish: Array<() => void> = [];
    const job = (i: number): Promise<number> => gate.run(() => new Promise<number>((resolve) => {
      started.push(i);
      finish[i] = () => resolve(i);
    }));
    const runs = [0, 1, 2, 3, 4].map(job);
    await expect(job(5)).rejects.toMatchObject({ code: 'rate_limited' });
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    expect([gate.running, gate.waiting]).toEqual([2, 3]);
    finish[1]!();
    await runs[1];
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1, 2]);
    for (const i of [0, 2]) finish[i]!();
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1, 2, 3, 4]);
    finish[3]!();
    finish[4]!();
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3, 4]);
    expect([gate.running, gate.waiting]).toEqual([0, 0]);
  });

  it('frees its place when the work throws', async () => {
    const gate = createHeavyGate({ concurrent: 1, queued: 0 });
    await expect(gate.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await gate.run(() => Promise.resolve(7))).toBe(7);
  });
});
