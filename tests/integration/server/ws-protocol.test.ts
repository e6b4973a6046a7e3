// The WebSocket protocol end to end over real sockets: hello/snapshot, auth in its three forms, commands with
// requestId, a real flash whose every frame conforms to the schemas, and each kind of bad input answered in place.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Conn, connect, makeImage, startHarness, type Harness } from './helpers/harness.js';
import type { FlashProgressMessage, HelloMessage, ResultMessage, ServerMessage } from '../../../src/protocol/messages.js';

let h: Harness;
beforeAll(async () => { h = await startHarness({ bytesPerSecond: 8 * 1024 * 1024 }); });
afterAll(async () => { await h.close(); });

const authed = (): Promise<Conn> => connect(`${h.url}?token=${h.token}`);

describe('connection', () => {
  it('says hello then snapshot, and answers ping with pong', async () => {
    const c = new Conn(h.url);
    await c.opened;
    await c.next((m) => m.type === 'snapshot');
    expect(c.frames[0]?.type).toBe('hello');
    expect(c.frames[1]?.type).toBe('snapshot');
    const hello = c.frames[0] as HelloMessage;
    expect(hello.protocol).toBe('flash-station/1');
    expect(hello.authenticated).toBe(false);
    const before = Date.now();
    c.send({ type: 'ping', timestamp: before });
    const pong = await c.next((m) => m.type === 'pong');
    expect((pong as { timestamp: number }).timestamp).toBeGreaterThanOrEqual(before);
    expect(c.invalid).toEqual([]);
    c.close();
  });

  it('authenticates with ?token=, Authorization: Bearer and an auth frame', async () => {
    const q = await authed();
    expect((q.frames[0] as HelloMessage).authenticated).toBe(true);
    const b = await connect(h.url, { headers: { authorization: `Bearer ${h.token}` } });
    expect((b.frames[0] as HelloMessage).authenticated).toBe(true);
    const f = await connect(h.url);
    const denied = (await f.request({ type: 'set_limits', bytesPerSecond: null })) as ResultMessage;
    expect(denied).toMatchObject({ type: 'result', ok: false, error: { code: 'unauthorized' } });
    const bad = (await f.request({ type: 'auth', token: 'nope' })) as ResultMessage;
    expect(bad.ok).toBe(false);
    const good = (await f.request({ type: 'auth', token: h.token })) as ResultMessage;
    expect(good.ok).toBe(true);
    const allowed = (await f.request({ type: 'set_limits', bytesPerSecond: null })) as ResultMessage;
    expect(allowed.ok).toBe(true);
    for (const c of [q, b, f]) { expect(c.invalid).toEqual([]); c.close(); }
  });

  it('connects a wrong token read-only with an unauthorized error frame', async () => {
    const c = await connect(`${h.url}?token=wrong`);
    expect((c.frames[0] as HelloMessage).authenticated).toBe(false);
    await c.next((m) => m.type === 'error' && m.code === 'unauthorized');
    const r = (await c.request({ type: 'cancel_flash', jobId: 'x' })) as ResultMessage;
    expect(r).toMatchObject({ ok: false, error: { code: 'unauthorized' } });
    const snap = await c.request({ type: 'get_snapshot' });
    expect(snap.type).toBe('snapshot');
    const hist = await c.request({ type: 'get_history', limit: 5 });
    expect(hist).toMatchObject({ type: 'result', ok: true, jobs: [] });
    c.close();
  });
});

describe('a real flash', () => {
  it('streams conforming frames: started, monotonic progress ending at 100, completed; the partition holds the image', async () => {
    const image = await makeImage(h.dir, 'boot.img', 4 * 1024 * 1024);
    const watcher = await connect(h.url);
    const c = await authed();
    expect(await c.request({ type: 'set_limits', bytesPerSecond: 8 * 1024 * 1024 })).toMatchObject({ ok: true });
    const start = watcher.frames.length;
    const r = (await c.request({ type: 'start_flash', deviceId: 'TEST0001', partition: 'boot', image })) as ResultMessage & { jobId: string };
    expect(r).toMatchObject({ ok: true, status: 'started' });
    const done = await watcher.next((m) => m.type === 'flash_completed' && m.jobId === r.jobId, 20_000, start);
    expect(done.type).toBe('flash_completed');
    const mine = watcher.frames.slice(start).filter((m) => 'jobId' in m && m.jobId === r.jobId);
    expect(mine[0]?.type).toBe('flash_started');
    const progress = mine.filter((m): m is FlashProgressMessage => m.type === 'flash_progress');
    expect(progress.length).toBeGreaterThan(2);
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.progress).toBeGreaterThanOrEqual(progress[i - 1]!.progress);
    expect(progress.at(-1)!.progress).toBe(100);
    expect(progress.at(-1)!.bytesTransferred).toBe(4 * 1024 * 1024);
    expect(watcher.invalid).toEqual([]);
    expect(c.invalid).toEqual([]);
    const same = execFileSync('cmp', [image, join(h.dir, 'parts', 'TEST0001-boot.img')]);
    expect(same.length).toBe(0);
    // Logs come back from history for a reconnecting page, also to a read-only watcher; unknown jobs are left out.
    const logs = await watcher.request({ type: 'get_job_logs', jobIds: [r.jobId, 'nope'] });
    expect(logs).toMatchObject({ type: 'result', ok: true, logs: expect.any(Object) });
    expect(Object.keys((logs as ResultMessage & { logs: object }).logs).filter((k) => k !== r.jobId)).toEqual([]);
    expect(await watcher.request({ type: 'get_job_logs', jobIds: [] })).toMatchObject({ type: 'error', code: 'bad_request' });
    const snap = await watcher.request({ type: 'get_snapshot' });
    expect(snap).toMatchObject({ type: 'snapshot', batches: [] });
    expect(watcher.invalid).toEqual([]);
    watcher.close();
    c.close();
  });

  it('pauses, resumes and cancels through commands; cancel ends with flash_failed reason cancelled', async () => {
    const image = await makeImage(h.dir, 'big.img', 32 * 1024 * 1024);
    const c = await authed();
    const r = (await c.request({ type: 'start_flash', deviceId: 'TEST0002', partition: 'boot', image })) as ResultMessage & { jobId: string };
    await c.next((m) => m.type === 'flash_progress' && m.jobId === r.jobId);
    expect(await c.request({ type: 'pause_flash', jobId: r.jobId })).toMatchObject({ ok: true, job: { state: 'paused' } });
    await c.next((m) => m.type === 'flash_paused');
    expect(await c.request({ type: 'resume_flash', jobId: r.jobId })).toMatchObject({ ok: true });
    await c.next((m) => m.type === 'flash_resumed');
    expect(await c.request({ type: 'cancel_flash', jobId: r.jobId })).toMatchObject({ ok: true });
    const failed = await c.next((m) => m.type === 'flash_failed' && m.jobId === r.jobId);
    expect(failed).toMatchObject({ error: 'Cancelled', reason: 'cancelled' });
    expect(c.invalid).toEqual([]);
    c.close();
  });
});

describe('additive commands', () => {
  it('pause_all / resume_all / cancel_all and settings over the socket', async () => {
    const image = await makeImage(h.dir, 'bulk.img', 32 * 1024 * 1024);
    const c = await authed();
    expect(await c.request({ type: 'set_limits', bytesPerSecond: 2 * 1024 * 1024 })).toMatchObject({ ok: true });
    const r = (await c.request({ type: 'start_flash', deviceId: 'TEST0002', partition: 'boot', image })) as ResultMessage & { jobId: string };
    await c.next((m) => m.type === 'flash_progress' && m.jobId === r.jobId);
    const paused = (await c.request({ type: 'pause_all' })) as ResultMessage & { jobs: Array<{ jobId: string; state: string }> };
    expect(paused.jobs.map((j) => [j.jobId, j.state])).toEqual([[r.jobId, 'paused']]);
    expect(await c.request({ type: 'resume_all' })).toMatchObject({ ok: true, jobs: [{ jobId: r.jobId }] });
    expect(await c.request({ type: 'cancel_all' })).toMatchObject({ ok: true, jobs: [{ jobId: r.jobId }] });
    await c.next((m) => m.type === 'flash_failed' && m.jobId === r.jobId);
    await c.request({ type: 'set_limits', bytesPerSecond: null });
    const anon = await connect(h.url);
    expect(await anon.request({ type: 'get_settings' })).toMatchObject({ ok: true, settings: { slotLimit: expect.any(Number) } });
    expect(await anon.request({ type: 'update_settings', settings: { slotLimit: 3 } })).toMatchObject({ ok: false, error: { code: 'unauthorized' } });
    expect(await anon.request({ type: 'cancel_all' })).toMatchObject({ ok: false, error: { code: 'unauthorized' } });
    expect(await c.request({ type: 'update_settings', settings: { slotLimit: 3 } })).toMatchObject({ ok: true, settings: { slotLimit: 3 } });
    expect(c.invalid).toEqual([]);
    c.close();
    anon.close();
  });
});

describe('requestId', () => {
  it('every command is answered with its requestId — result, or snapshot for get_snapshot — refusals included', async () => {
    const c = await authed();
    const image = await makeImage(h.dir, 'rid.img', 64 * 1024);
    const commands: Array<Record<string, unknown>> = [
      { type: 'auth', token: h.token },
      { type: 'get_snapshot' },
      { type: 'get_history', limit: 1 },
      { type: 'get_job_logs', jobIds: ['nope'] },
      { type: 'get_settings' },
      { type: 'update_settings', settings: { retries: 2 } },
      { type: 'set_limits', bytesPerSecond: null },
      { type: 'start_flash', deviceId: 'NO_SUCH_DEVICE', partition: 'boot', image },
      { type: 'pause_flash', jobId: 'no-such-job' },
      { type: 'resume_flash', jobId: 'no-such-job' },
      { type: 'cancel_flash', jobId: 'no-such-job' },
      { type: 'pause_all' },
      { type: 'resume_all' },
      { type: 'cancel_all' },
      { type: 'flash_started', jobId: 'rid_ext', deviceId: 'EXT', stage: 'Initializing', totalBytes: 10, timestamp: Date.now() },
      { type: 'flash_completed', jobId: 'rid_ext', deviceId: 'EXT', timestamp: Date.now() },
    ];
    for (const [i, command] of commands.entries()) {
      const requestId = `rid-${i}-${String(command.type)}`;
      c.send({ ...command, requestId });
      const answer = await c.next((m) => (m as { requestId?: string }).requestId === requestId);
      expect(answer.type, requestId).toBe(command.type === 'get_snapshot' ? 'snapshot' : 'result');
    }
    // Refusals are results too, with the protocol's codes.
    const refused = c.frames.filter((m): m is ResultMessage => m.type === 'result' && m.ok === false).map((m) => [m.requestId, (m as { error: { code: string } }).error.code]);
    expect(refused).toEqual(expect.arrayContaining([['rid-7-start_flash', 'device_not_found'], ['rid-8-pause_flash', 'job_not_found']]));
    // ping is the one command answered without a result, as the contract says: pong.
    c.send({ type: 'ping', timestamp: 1, requestId: 'rid-ping' });
    expect((await c.next((m) => m.type === 'pong')).type).toBe('pong');
    expect(c.invalid).toEqual([]);
    c.close();
  });
});

describe('bad input is answered and the connection stays open', () => {
  const cases: Array<[string, string, string]> = [
    ['invalid JSON', '{"type": "ping",', 'invalid_json'],
    ['a JSON array', '[1,2]', 'bad_request'],
    ['unknown type', '{"type":"format_disk","requestId":"u1"}', 'unknown_type'],
    ['missing type', '{"jobId":"x"}', 'bad_request'],
    ['missing field', '{"type":"pause_flash","requestId":"m1"}', 'bad_request'],
    ['ill-typed field', '{"type":"cancel_flash","jobId":5,"requestId":"t1"}', 'bad_request'],
    ['ill-typed limit', '{"type":"set_limits","bytesPerSecond":"fast"}', 'bad_request'],
    ['start_flash with image and plan', '{"type":"start_flash","deviceId":"A","partition":"boot","image":"/x","plan":"/y"}', 'bad_request'],
    ['a progress event missing fields', '{"type":"flash_progress","jobId":"j","deviceId":"d"}', 'bad_request'],
    ['a frame nested 100 000 deep', `{"type":"flash_completed","jobId":"deep","deviceId":"d","timestamp":1,"x":${'['.repeat(100_000)}${']'.repeat(100_000)}}`, 'bad_request'],
  ];
  for (const [name, frame, code] of cases) {
    it(name, async () => {
      const c = await authed();
      const from = c.frames.length;
      c.send(frame);
      const err = await c.next((m) => m.type === 'error', 5000, from);
      expect(err).toMatchObject({ type: 'error', code });
      expect((err as { message: string }).message.length).toBeGreaterThan(10);
      const requestId = /"requestId":"(\w+)"/.exec(frame)?.[1];
      if (requestId) expect((err as { requestId?: string }).requestId).toBe(requestId);
      c.send({ type: 'ping', timestamp: 1 });
      await c.next((m) => m.type === 'pong', 5000, from);
      expect(c.invalid).toEqual([]);
      c.close();
    });
  }

  it('closes with 1009 on a 2 MiB frame', async () => {
    const c = await authed();
    c.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(2 * 1024 * 1024) }));
    const closed = await c.closed;
    expect(closed.code).toBe(1009);
  });

  it('accepts a frame just under 1 MiB', async () => {
    const c = await authed();
    c.send(JSON.stringify({ type: 'ping', timestamp: 1, pad: 'x'.repeat(1024 * 1024 - 100) }));
    await c.next((m) => m.type === 'pong');
    c.close();
  });

  it('refuses start_flash with a missing, directory or unreadable image, unknown device and busy device', async () => {
    const c = await authed();
    const dir = join(h.dir, 'adir');
    await mkdir(dir, { recursive: true });
    const fifo = join(h.dir, 'fifo.img');
    execFileSync('mkfifo', [fifo]);
    const image = await makeImage(h.dir, 'slow.img', 16 * 1024 * 1024);
    const expectCode = async (cmd: Record<string, unknown>, code: string): Promise<void> => {
      const r = (await c.request({ type: 'start_flash', partition: 'boot', ...cmd })) as ResultMessage;
      expect(r).toMatchObject({ ok: false, error: { code } });
      expect((r as { error: { message: string } }).error.message).toMatch(/\w{3,}/);
    };
    await expectCode({ deviceId: 'TEST0001', image: join(h.dir, 'missing.img') }, 'image_not_found');
    await expectCode({ deviceId: 'TEST0001', image: dir }, 'image_unreadable');
    await expectCode({ deviceId: 'TEST0001', image: fifo }, 'image_unreadable');
    await expectCode({ deviceId: 'NOPE', image }, 'device_not_found');
    const first = (await c.request({ type: 'start_flash', deviceId: 'TEST0001', partition: 'boot', image })) as ResultMessage & { jobId: string };
    expect(first.ok).toBe(true);
    await expectCode({ deviceId: 'TEST0001', image }, 'device_busy');
    await c.request({ type: 'cancel_flash', jobId: first.jobId });
    await c.next((m) => m.type === 'flash_failed' && m.jobId === first.jobId);
    expect(c.invalid).toEqual([]);
    c.close();
  });
});

describe('upgrade checks', () => {
  const status = async (url: string, options: ConstructorParameters<typeof Conn>[1]): Promise<number | 'open'> => {
    const c = new Conn(url, options);
    try {
      await c.opened;
      c.close();
      return 'open';
    } catch (e) {
      return (e as { status?: number }).status ?? -1;
    }
  };
  it('refuses a foreign Origin with 403 and accepts the station\'s own', async () => {
    expect(await status(h.url, { origin: 'https://evil.example' })).toBe(403);
    expect(await status(h.url, { origin: `http://localhost:${h.server.port}` })).toBe('open');
    expect(await status(h.url, { origin: `http://127.0.0.1:${h.server.port}` })).toBe('open');
    expect(await status(h.url, { origin: `http://127.0.0.1:${h.server.port + 1}` })).toBe(403);
  });
  it('refuses a foreign Host with 403 (DNS rebinding)', async () => {
    expect(await status(h.url, { headers: { host: `evil.example:${h.server.port}` } })).toBe(403);
    expect(await status(h.url, { headers: { host: `localhost:${h.server.port}` } })).toBe('open');
  });
  it('accepts an --allow-origin page', async () => {
    const other = await startHarness({ allowOrigins: ['https://tools.example'] });
    try {
      expect(await status(other.url, { origin: 'https://tools.example' })).toBe('open');
      expect(await status(other.url, { origin: 'https://tools.example.evil' })).toBe(403);
    } finally {
      await other.close();
    }
  });
  it('answers 404 for another upgrade path', async () => {
    expect(await status(h.url.replace('/flash-progress', '/other'), {})).toBe(404);
  });
});

export type { ServerMessage };
