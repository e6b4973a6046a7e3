// TokenBucket: the limit holds within ±10 %, changes live, serves first come first served, and lets cancels out.
import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../../src/core/token-bucket.js';
import { createJobThrottle } from '../../../src/core/throttle.js';
import { FakeClock } from './fake-clock.js';

/** Drive senders that each take `chunk` bytes as fast as allowed for `ms`; returns bytes each sent. */
async function pumpAll(clock: FakeClock, takes: Array<(n: number) => Promise<void>>, chunk: number, ms: number): Promise<number[]> {
  const sent = takes.map(() => 0);
  let stop = false;
  const loops = takes.map(async (take, i) => {
    while (!stop) {
      await take(chunk);
      if (!stop) sent[i] = (sent[i] ?? 0) + chunk;
    }
  });
  await clock.advance(ms);
  stop = true;
  await clock.advance(60_000);
  await Promise.all(loops);
  return sent;
}

async function pump(clock: FakeClock, take: (n: number) => Promise<void>, chunk: number, ms: number): Promise<number> {
  return (await pumpAll(clock, [take], chunk, ms))[0] as number;
}

describe('TokenBucket', () => {
  it.each([1_000_000, 5_000_000, 40_000_000])('holds %i B/s within ±10 %', async (rate) => {
    const clock = new FakeClock();
    const b = new TokenBucket(rate, clock);
    const sent = await pump(clock, (n) => b.take(n), 512 * 1024, 10_000);
    const measured = sent / 10;
    expect(measured).toBeGreaterThan(rate * 0.9);
    expect(measured).toBeLessThan(rate * 1.1);
  });

  it('does not wait when unlimited', async () => {
    const clock = new FakeClock();
    const b = new TokenBucket(null, clock);
    await b.take(1e12);
    expect(clock.pending).toBe(0);
  });

  it('changes rate live for a waiter already queued', async () => {
    const clock = new FakeClock();
    const b = new TokenBucket(1_000_000, clock);
    await b.take(16 * 1024); // spend the burst
    let done = false;
    void b.take(10_000_000).then(() => (done = true));
    await clock.advance(1000);
    expect(done).toBe(false); // would need 10 s at 1 MB/s
    b.setRate(100_000_000);
    await clock.advance(200);
    expect(done).toBe(true);
  });

  it('serves waiters in arrival order', async () => {
    const clock = new FakeClock();
    const b = new TokenBucket(1_000_000, clock);
    const order: string[] = [];
    void b.take(500_000).then(() => order.push('a'));
    void b.take(500_000).then(() => order.push('b'));
    void b.take(10).then(() => order.push('c'));
    await clock.advance(2000);
    expect(order).toEqual(['a', 'b', 'c']);
  });

  it('rejects a waiter whose signal aborts, and others keep going', async () => {
    const clock = new FakeClock();
    const b = new TokenBucket(1_000_000, clock);
    await b.take(16 * 1024);
    const ac = new AbortController();
    const p = b.take(5_000_000, ac.signal);
    ac.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
    expect(b.waiting).toBe(0);
  });

  it('a job and the station limit combine: the tighter one wins', async () => {
    const clock = new FakeClock();
    const station = new TokenBucket(2_000_000, clock);
    const jobA = new TokenBucket(null, clock);
    const jobB = new TokenBucket(500_000, clock);
    const a = createJobThrottle(jobA, station);
    const b = createJobThrottle(jobB, station);
    const [sa = 0, sb = 0] = await pumpAll(clock, [(n) => a.take(n), (n) => b.take(n)], 64 * 1024, 10_000);
    expect(sb / 10).toBeGreaterThan(450_000);
    expect(sb / 10).toBeLessThan(550_000);
    expect((sa + sb) / 10).toBeLessThan(2_200_000);
    expect((sa + sb) / 10).toBeGreaterThan(1_800_000);
  });
});
