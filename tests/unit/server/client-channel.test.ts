// ClientChannel with a fake socket and fake timers: straight through while the socket keeps up; once it lags, progress
// coalesces per job, a job's lifecycle frame follows its latest progress, and a client past the bound is dropped.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ClientChannel, type ChannelCounters, type PreparedFrame } from '../../../src/server/client-channel.js';
import { FakeWs } from './fake-ws.js';

const limits = { highWaterBytes: 1000, maxQueuedBytes: 5000 };
const counters = (): ChannelCounters => ({ framesSent: 0, framesCoalesced: 0, framesDropped: 0, slowClientsDisconnected: 0 });
const progress = (jobId: string, n: number): PreparedFrame => ({ data: Buffer.from(JSON.stringify({ type: 'flash_progress', jobId, n })), coalesceKey: jobId });
const event = (type: string, jobId?: string): PreparedFrame => ({ data: Buffer.from(JSON.stringify({ type, jobId })), ...(jobId ? { jobId } : {}) });

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('ClientChannel', () => {
  it('sends straight through while the socket buffer is under the high-water mark', () => {
    const ws = new FakeWs();
    const c = counters();
    const ch = new ClientChannel(ws.asWs(), limits, c);
    ch.push(progress('a', 1));
    ch.push(event('flash_completed', 'a'));
    expect(ws.frames().map((f) => f.type)).toEqual(['flash_progress', 'flash_completed']);
    expect(c.framesSent).toBe(2);
    expect(ch.lagging).toBe(false);
  });

  it('once lagging, keeps only the latest progress per job and sends it when the socket drains', async () => {
    const ws = new FakeWs();
    const c = counters();
    const ch = new ClientChannel(ws.asWs(), limits, c);
    ws.bufferedAmount = 2000;
    for (let i = 1; i <= 5; i++) {
      ch.push(progress('a', i));
      ch.push(progress('b', i * 10));
    }
    expect(ws.sent).toEqual([]);
    expect(ch.lagging).toBe(true);
    expect(c.framesCoalesced).toBe(8);
    // Still full at the first retry: nothing goes.
    await vi.advanceTimersByTimeAsync(20);
    expect(ws.sent).toEqual([]);
    ws.bufferedAmount = 0;
    await vi.advanceTimersByTimeAsync(20);
    expect(ws.frames()).toEqual([{ type: 'flash_progress', jobId: 'a', n: 5 }, { type: 'flash_progress', jobId: 'b', n: 50 }]);
    expect(ch.lagging).toBe(false);
    expect(ch.heldBytes).toBe(0);
  });

  it("sends a job's latest progress before its lifecycle frame, and other frames in order", async () => {
    const ws = new FakeWs();
    const ch = new ClientChannel(ws.asWs(), limits, counters());
    ws.bufferedAmount = 2000;
    ch.push(progress('a', 1));
    ch.push(progress('b', 1));
    ch.push(event('device_attached'));
    ch.push(progress('a', 2));
    ch.push(event('flash_completed', 'a'));
    ws.bufferedAmount = 0;
    await vi.advanceTimersByTimeAsync(20);
    expect(ws.frames().map((f) => [f.type, f.jobId, f.n])).toEqual([
      ['device_attached', undefined, undefined], ['flash_progress', 'a', 2], ['flash_completed', 'a', undefined], ['flash_progress', 'b', 1],
    ]);
  });

  it('drops a client that holds more than the bound: close 1008, terminate a second later', async () => {
    const ws = new FakeWs();
    const c = counters();
    const ch = new ClientChannel(ws.asWs(), limits, c);
    ws.bufferedAmount = 4000;
    ch.push(event('flash_log', 'a'));
    expect(ws.closedWith).toBeUndefined();
    ch.push({ data: Buffer.alloc(1500) });
    expect(ws.closedWith).toEqual({ code: 1008, reason: 'Too slow: frames not read' });
    expect(c.slowClientsDisconnected).toBe(1);
    expect(c.framesDropped).toBe(2);
    expect(ws.terminated).toBe(false);
    await vi.advanceTimersByTimeAsync(1000);
    expect(ws.terminated).toBe(true);
    // A dropped channel takes nothing more.
    ch.push(event('flash_log', 'a'));
    expect(ws.sent).toEqual([]);
  });

  it('drainAll hands everything held to the socket before a clean close; discard forgets and counts it', () => {
    const ws = new FakeWs();
    const c = counters();
    const ch = new ClientChannel(ws.asWs(), limits, c);
    ws.bufferedAmount = 2000;
    ch.push(event('flash_started', 'a'));
    ch.push(progress('a', 3));
    ch.drainAll();
    expect(ws.frames().map((f) => f.type)).toEqual(['flash_started', 'flash_progress']);
    const other = new FakeWs();
    other.bufferedAmount = 2000;
    const ch2 = new ClientChannel(other.asWs(), limits, c);
    ch2.push(event('flash_started', 'a'));
    ch2.push(progress('a', 1));
    ch2.discard();
    expect(c.framesDropped).toBe(2);
    other.bufferedAmount = 0;
    ch2.flush();
    expect(other.sent).toEqual([]);
  });

  it('a socket that closed while frames were held: the next flush discards them', async () => {
    const ws = new FakeWs();
    const c = counters();
    const ch = new ClientChannel(ws.asWs(), limits, c);
    ws.bufferedAmount = 2000;
    ch.push(event('flash_started', 'a'));
    ws.readyState = ws.CLOSED;
    await vi.advanceTimersByTimeAsync(20);
    expect(ws.sent).toEqual([]);
    expect(c.framesDropped).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });
});
