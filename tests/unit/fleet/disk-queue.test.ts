// DiskQueue: order, bounds with counted drops, and what survives a restart.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DiskQueue } from '../../../src/fleet/disk-queue.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const fresh = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'fs-dq-'));
  dirs.push(d);
  return d;
};
const payloads = (q: DiskQueue): string[] => Array.from({ length: q.length }, (_, i) => q.at(i)?.payload ?? '');

describe('DiskQueue', () => {
  it('keeps entries in order and drops the oldest past the entry bound, counting them', () => {
    const q = new DiskQueue(fresh(), { maxEntries: 3, maxBytes: 1 << 20 });
    for (let i = 1; i <= 5; i++) q.push(JSON.stringify({ i }));
    expect(payloads(q)).toEqual(['{"i":3}', '{"i":4}', '{"i":5}']);
    expect(q.droppedTotal).toBe(2);
    expect(q.unreported).toBe(2);
    q.reported(2);
    expect(q.unreported).toBe(0);
    q.close();
  });

  it('bounds the bytes too', () => {
    const q = new DiskQueue(fresh(), { maxEntries: 100, maxBytes: 25 });
    for (let i = 0; i < 5; i++) q.push(JSON.stringify({ x: 'aaaa' }));
    expect(q.bytes).toBeLessThanOrEqual(25);
    expect(q.length).toBe(2); // 12-byte payloads: two fit in 25 bytes
    expect(q.droppedTotal).toBe(3);
    q.close();
  });

  it('survives a restart: acknowledged entries are gone, the rest come back in order', () => {
    const dir = fresh();
    const q = new DiskQueue(dir, { maxEntries: 100, maxBytes: 1 << 20 });
    for (let i = 1; i <= 4; i++) q.push(JSON.stringify({ i }));
    q.ackThrough(q.at(1)?.seq ?? 0);
    q.close();
    const again = new DiskQueue(dir, { maxEntries: 100, maxBytes: 1 << 20 });
    expect(payloads(again)).toEqual(['{"i":3}', '{"i":4}']);
    again.push('{"i":5}');
    expect(again.at(2)?.seq).toBeGreaterThan(again.at(1)?.seq ?? Infinity);
    again.close();
  });

  it('compacts its file as entries are acknowledged and still restarts right', () => {
    const dir = fresh();
    const q = new DiskQueue(dir, { maxEntries: 10_000, maxBytes: 1 << 24 });
    for (let i = 0; i < 5000; i++) {
      q.push(JSON.stringify({ i }));
      if (i % 2 === 1) q.ackThrough(q.at(0)?.seq ?? 0);
    }
    q.close();
    const again = new DiskQueue(dir, { maxEntries: 10_000, maxBytes: 1 << 24 });
    expect(again.length).toBe(2500);
    expect(again.at(2499)?.payload).toBe('{"i":4999}');
    again.close();
  });
});
