// WsHub over fake sockets and fake timers: hello + snapshot on accept, answers with requestId, refusals that keep the
// connection, rate limits, heartbeat, idle eviction, fan-out — and a command whose answer cannot be sent still gets one.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { IncomingMessage } from 'node:http';
import type { StationApi, StationListener } from '../../../src/core/station-api.js';
import type { Job, ServerMessage } from '../../../src/protocol/messages.js';
import { WsHub, type HubOptions } from '../../../src/server/ws-hub.js';
import { FakeWs } from './fake-ws.js';

const options: HubOptions = {
  version: '9.9.9', checkToken: (t) => t === 'secret', limits: { highWaterBytes: 1 << 20, maxQueuedBytes: 4 << 20 },
  ratePerSecond: 10, rateBurst: 5, maxRefusedFrames: 20, heartbeatMs: 30_000,
};

interface FakeStation extends StationApi {
  emit(m: ServerMessage): void;
  historyAnswer: unknown;
}

function station(): FakeStation {
  const listeners = new Set<StationListener>();
  const s = {
    historyAnswer: [] as unknown,
    devices: () => [],
    jobs: () => [],
    batches: () => [],
    history: () => s.historyAnswer as Job[],
    cancel: (jobId: string): Job => {
      throw Object.assign(new Error(`No job ${jobId}`), { name: 'FlashError', code: 'job_not_found' });
    },
    subscribe: (l: StationListener) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    emit: (m: ServerMessage) => {
      for (const l of listeners) l(m);
    },
  };
  return s as unknown as FakeStation;
}

const req = {} as IncomingMessage;
const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

let hubs: WsHub[] = [];
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval', 'clearTimeout', 'clearInterval', 'performance', 'Date'] });
});
afterEach(() => {
  for (const h of hubs) h.close();
  hubs = [];
  vi.useRealTimers();
});

function hub(s = station()): { hub: WsHub; s: FakeStation } {
  const h = new WsHub(s, options);
  hubs.push(h);
  return { hub: h, s };
}

describe('WsHub', () => {
  it('greets with hello then snapshot; a wrong token connects read-only with an unauthorized error frame', () => {
    const { hub: h } = hub();
    const good = new FakeWs();
    h.accept(good.asWs(), req, 'yes');
    expect(good.frames().map((f) => f.type)).toEqual(['hello', 'snapshot']);
    expect(good.frames()[0]).toMatchObject({ protocol: 'flash-station/1', version: '9.9.9', authenticated: true });
    const wrong = new FakeWs();
    h.accept(wrong.asWs(), req, 'wrong');
    expect(wrong.frames().map((f) => f.type)).toEqual(['hello', 'snapshot', 'error']);
    expect(wrong.frames()[2]).toMatchObject({ code: 'unauthorized' });
    expect(h.size).toBe(2);
    expect(h.readOnlyCount).toBe(1);
  });

  it('answers a command with its requestId, refuses what it cannot read, and keeps the connection', async () => {
    const { hub: h } = hub();
    const ws = new FakeWs();
    h.accept(ws.asWs(), req, 'no');
    ws.receive({ type: 'get_history', requestId: 'r1' });
    ws.receive('{"type":');
    ws.emit('message', Buffer.from([1, 2]), true);
    ws.receive({ type: 'cancel_flash', jobId: 'j', requestId: 'r2' });
    ws.receive({ type: 'auth', token: 'secret', requestId: 'r3' });
    await flush();
    const after = ws.frames().slice(2);
    expect(after).toEqual([
      { type: 'error', code: 'invalid_json', message: expect.any(String) },
      { type: 'error', code: 'bad_request', message: expect.stringMatching(/Binary frames/) },
      { type: 'result', requestId: 'r1', ok: true, jobs: [] },
      { type: 'result', requestId: 'r2', ok: false, error: { code: 'unauthorized', message: expect.any(String) } },
      { type: 'result', requestId: 'r3', ok: true, authenticated: true },
    ]);
    expect(ws.closedWith).toBeUndefined();
    expect(h.readOnlyCount).toBe(0);
    expect(h.counters.invalidFrames).toBe(2);
  });

  it('a reply that cannot be sent still gets an answer: an internal error frame with the requestId', async () => {
    const { hub: h, s } = hub();
    const ws = new FakeWs();
    h.accept(ws.asWs(), req, 'yes');
    s.historyAnswer = [{ jobId: 'j', size: 1n }];
    const rejections: unknown[] = [];
    const onRejection = (e: unknown): number => rejections.push(e);
    process.on('unhandledRejection', onRejection);
    try {
      ws.receive({ type: 'get_history', requestId: 'h1' });
      await flush();
      await vi.advanceTimersByTimeAsync(0);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
    expect(rejections).toEqual([]);
    expect(ws.frames().at(-1)).toMatchObject({ type: 'error', code: 'internal', requestId: 'h1', message: expect.stringMatching(/could not carry out get_history.*BigInt/) });
  });

  it('rate-limits a flood: one rate_limited notice per second, then closes with 1008', async () => {
    await vi.advanceTimersByTimeAsync(2_000);
    const { hub: h } = hub();
    const ws = new FakeWs();
    h.accept(ws.asWs(), req, 'no');
    for (let i = 0; i < 15; i++) ws.receive({ type: 'ping' });
    await flush();
    const notices = ws.frames().filter((f) => f.type === 'error' && f.code === 'rate_limited');
    expect(notices).toHaveLength(1);
    expect(ws.frames().filter((f) => f.type === 'pong')).toHaveLength(5);
    expect(ws.closedWith).toBeUndefined();
    for (let i = 0; i < 20; i++) ws.receive({ type: 'ping' });
    expect(ws.closedWith).toEqual({ code: 1008, reason: 'Rate limit exceeded' });
    expect(h.counters.framesRateLimited).toBeGreaterThan(20);
  });

  it('pings every heartbeat and terminates a client that did not answer the last ping', async () => {
    const { hub: h } = hub();
    const quiet = new FakeWs();
    const lively = new FakeWs();
    lively.ping = () => {
      lively.pings++;
      lively.emit('pong');
    };
    h.accept(quiet.asWs(), req, 'no');
    h.accept(lively.asWs(), req, 'no');
    await vi.advanceTimersByTimeAsync(30_000);
    expect([quiet.pings, lively.pings]).toEqual([1, 1]);
    expect(quiet.terminated).toBe(false);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(quiet.terminated).toBe(true);
    expect(lively.terminated).toBe(false);
    expect(h.size).toBe(1);
  });

  it('fans station events out to every client, and not to one that closed', () => {
    const { hub: h, s } = hub();
    const a = new FakeWs();
    const b = new FakeWs();
    h.accept(a.asWs(), req, 'no');
    h.accept(b.asWs(), req, 'yes');
    b.emit('close', 1000, Buffer.alloc(0));
    s.emit({ type: 'device_detached', deviceId: 'D', timestamp: 1 });
    // Events of one turn go out together, at the end of the turn (or before any frame sent to one client).
    expect(a.frames().at(-1)?.type).toBe('snapshot');
    h.flushBatch();
    expect(a.frames().at(-1)).toEqual({ type: 'device_detached', deviceId: 'D', timestamp: 1 });
    expect(b.frames().map((f) => f.type)).toEqual(['hello', 'snapshot']);
    expect(h.size).toBe(1);
  });

  it('fan-out work per turn: each event serialised once, one write per client for a burst, order kept', () => {
    const { hub: h, s } = hub();
    const clients = Array.from({ length: 200 }, () => new FakeWs());
    for (const c of clients) h.accept(c.asWs(), req, 'no');
    const writesBefore = clients.map((c) => c._socket.writes);
    const stringify = vi.spyOn(JSON, 'stringify');
    for (let j = 0; j < 16; j++) {
      s.emit({ type: 'flash_progress', jobId: `j${j}`, deviceId: 'D', progress: 50, stage: 'Writing', bytesTransferred: 5, totalBytes: 10, transferSpeed: 1, estimatedTimeRemaining: 5, timestamp: j });
    }
    h.flushBatch();
    expect(stringify).toHaveBeenCalledTimes(16);
    stringify.mockRestore();
    for (const [i, c] of clients.entries()) {
      expect(c._socket.writes - writesBefore[i]!).toBe(1);
      expect(c.frames().slice(2).map((f) => f.jobId)).toEqual(Array.from({ length: 16 }, (_, j) => `j${j}`));
    }
    expect(h.counters.batches).toBe(1);
  });

  it('sends a frame for one client only after the events queued before it', async () => {
    const { hub: h, s } = hub();
    const ws = new FakeWs();
    h.accept(ws.asWs(), req, 'yes');
    s.emit({ type: 'device_detached', deviceId: 'D', timestamp: 1 });
    ws.receive({ type: 'ping', timestamp: 2 });
    await flush();
    expect(ws.frames().map((f) => f.type)).toEqual(['hello', 'snapshot', 'device_detached', 'pong']);
  });

  it('evicts the longest-idle read-only client to make room, never an authenticated one', async () => {
    const { hub: h } = hub();
    const old = new FakeWs();
    const authed = new FakeWs();
    h.accept(old.asWs(), req, 'no');
    h.accept(authed.asWs(), req, 'yes');
    await vi.advanceTimersByTimeAsync(5_000);
    const recent = new FakeWs();
    h.accept(recent.asWs(), req, 'no');
    expect(h.evictIdleReadOnly(10_000)).toBe(false);
    await vi.advanceTimersByTimeAsync(6_000);
    expect(h.evictIdleReadOnly(10_000)).toBe(true);
    expect(old.closedWith?.code).toBe(1013);
    expect(recent.closedWith).toBeUndefined();
    expect(authed.closedWith).toBeUndefined();
    expect(h.counters.idleEvicted).toBe(1);
    await vi.advanceTimersByTimeAsync(500);
    expect(old.terminated).toBe(true);
  });

  it('close says 1001 to every client and stops listening to the station', () => {
    const { hub: h, s } = hub();
    const ws = new FakeWs();
    h.accept(ws.asWs(), req, 'no');
    h.close();
    expect(ws.closedWith).toEqual({ code: 1001, reason: 'Station shutting down' });
    const count = ws.sent.length;
    s.emit({ type: 'device_detached', deviceId: 'D', timestamp: 1 });
    expect(ws.sent.length).toBe(count);
  });
});
