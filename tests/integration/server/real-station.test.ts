// The server over the real station core and simulated fastboot devices (launchStation, as `serve` runs it):
// every frame of a real flash conforms to the schemas, and each bad start_flash gets its code with nothing started.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchStation, type LaunchedStation } from '../../../src/server/launch.js';
import type { FlashProgressMessage, ResultMessage } from '../../../src/protocol/messages.js';
import { connect, makeImage, type Conn } from './helpers/harness.js';

let dir: string;
let s: LaunchedStation;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fs-real-'));
  s = await launchStation({
    host: '127.0.0.1', port: 0, dataDir: join(dir, 'data'), usb: false, serial: false,
    sims: ['fastboot:REAL0001?speed=64M&partitions=boot:64M,system:256M', 'fastboot:REAL0002?speed=8M&partitions=boot:64M,system:256M'],
  });
});
afterAll(async () => {
  await s.close();
  await rm(dir, { recursive: true, force: true });
});

const authed = (): Promise<Conn> => connect(`${s.url}?token=${encodeURIComponent(s.token)}`);

describe('over the real station', () => {
  it('a real flash through a simulated device: every frame a client receives conforms', async () => {
    const image = await makeImage(dir, 'boot.img', 6 * 1024 * 1024);
    const watcher = await connect(s.url);
    const c = await authed();
    expect(watcher.frames[1]).toMatchObject({ type: 'snapshot' });
    const r = (await c.request({ type: 'start_flash', deviceId: 'REAL0001', partition: 'boot', image })) as ResultMessage & { jobId: string };
    expect(r).toMatchObject({ ok: true });
    await watcher.next((m) => m.type === 'flash_completed' && m.jobId === r.jobId, 60_000);
    const mine = watcher.frames.filter((m) => 'jobId' in m && m.jobId === r.jobId);
    expect(mine.find((m) => m.type === 'flash_started')).toBeDefined();
    const progress = mine.filter((m): m is FlashProgressMessage => m.type === 'flash_progress');
    expect(progress.at(-1)?.progress).toBe(100);
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.progress).toBeGreaterThanOrEqual(progress[i - 1]!.progress);
    expect(watcher.invalid).toEqual([]);
    expect(c.invalid).toEqual([]);
    const types = new Set(watcher.frames.map((m) => m.type));
    expect(types.has('hello') && types.has('snapshot') && types.has('flash_completed')).toBe(true);
    watcher.close();
    c.close();
  });

  it('forwards an outside event rebuilt from its known fields: no extra keys, no deep nesting, capped text', async () => {
    const agent = await authed();
    const watcher = await connect(s.url);
    const from = watcher.frames.length;
    let deep = '1';
    for (let i = 0; i < 3000; i++) deep = `{"x":${deep}}`;
    const refused = (await agent.request(JSON.parse(`{"type":"flash_started","jobId":"deep3000","deviceId":"EXT","stage":"s","totalBytes":10,"timestamp":1}`) as Record<string, unknown>)) as ResultMessage;
    expect(refused.ok).toBe(true);
    agent.send(`{"type":"flash_started","jobId":"deep3000b","deviceId":"EXT","stage":"s","totalBytes":10,"timestamp":1,"extra":${deep}}`);
    expect(await agent.next((m) => m.type === 'error' && m.code === 'bad_request', 5000)).toBeTruthy();
    agent.send(`{"type":"flash_started","jobId":"rebuilt","deviceId":"EXT","stage":"${'s'.repeat(900 * 1024)}","totalBytes":10,"timestamp":1,"extra":{"a":{"b":[1,2,{"c":3}]}},"html":"<script>"}`);
    const seen = await watcher.next((m) => m.type === 'flash_started' && m.jobId === 'rebuilt', 5000, from);
    expect(Object.keys(seen).sort()).toEqual(['deviceId', 'jobId', 'stage', 'timestamp', 'totalBytes', 'type']);
    expect((seen as { stage: string }).stage.length).toBeLessThanOrEqual(256);
    agent.send({ type: 'flash_completed', jobId: 'rebuilt', deviceId: 'EXT', timestamp: 2 });
    await watcher.next((m) => m.type === 'flash_completed' && m.jobId === 'rebuilt', 5000, from);
    const late = (await agent.request({ type: 'flash_progress', jobId: 'rebuilt', deviceId: 'EXT', progress: 1, stage: 's', bytesTransferred: 1, totalBytes: 10, transferSpeed: 1, estimatedTimeRemaining: 1, timestamp: 3 })) as ResultMessage;
    expect(late).toMatchObject({ ok: false, error: { code: 'invalid_state' } });
    const snap = (await watcher.request({ type: 'get_snapshot' })) as unknown as { jobs: Array<{ jobId: string; state: string }> };
    expect(snap.jobs.find((j) => j.jobId === 'rebuilt')?.state).toBe('completed');
    for (const c of [agent, watcher]) { expect(c.invalid).toEqual([]); c.close(); }
  });

  it('refuses a missing, directory or unreadable image, an unknown device and a busy device', async () => {
    const c = await authed();
    const adir = join(dir, 'a-directory.img');
    await mkdir(adir, { recursive: true });
    // Root reads any file whatever its mode, so "unreadable" is made of a path that cannot be read as a file:
    // a name under a regular file (ENOTDIR) and a FIFO.
    const fifo = join(dir, 'fifo.img');
    execFileSync('mkfifo', [fifo]);
    const image = await makeImage(dir, 'big.img', 32 * 1024 * 1024);
    const refuse = async (cmd: Record<string, unknown>, codes: string[]): Promise<string> => {
      const r = (await c.request({ type: 'start_flash', partition: 'boot', ...cmd }, 20_000)) as ResultMessage;
      expect(r.ok, JSON.stringify(cmd)).toBe(false);
      const error = (r as { error: { code: string; message: string } }).error;
      expect(codes, error.message).toContain(error.code);
      expect(error.message).toMatch(/\w{3,}/);
      return error.code;
    };
    await refuse({ deviceId: 'REAL0002', image: join(dir, 'missing.img') }, ['image_not_found']);
    await refuse({ deviceId: 'REAL0002', image: adir }, ['image_unreadable', 'image_invalid']);
    await refuse({ deviceId: 'REAL0002', image: join(image, 'inside') }, ['image_unreadable', 'image_not_found']);
    await refuse({ deviceId: 'REAL0002', image: fifo }, ['image_unreadable', 'image_invalid']);
    await refuse({ deviceId: 'NOPE', image }, ['device_not_found']);
    const first = (await c.request({ type: 'start_flash', deviceId: 'REAL0002', partition: 'boot', image })) as ResultMessage & { jobId: string };
    expect(first.ok).toBe(true);
    await c.next((m) => m.type === 'flash_progress' && m.jobId === first.jobId, 20_000);
    const second = (await c.request({ type: 'start_flash', deviceId: 'REAL0002', partition: 'boot', image })) as ResultMessage & { jobId?: string; status?: string };
    // A busy device either refuses (device_busy) or queues the job behind the running one; it never runs two at once.
    if (second.ok) {
      expect(second.status).toBe('queued');
      await c.request({ type: 'cancel_flash', jobId: second.jobId! });
    } else {
      expect((second as { error: { code: string } }).error.code).toBe('device_busy');
    }
    const cancelled = (await c.request({ type: 'cancel_flash', jobId: first.jobId })) as ResultMessage;
    expect(cancelled.ok).toBe(true);
    const failed = await c.next((m) => m.type === 'flash_failed' && m.jobId === first.jobId, 20_000);
    expect(failed).toMatchObject({ error: 'Cancelled', reason: 'cancelled' });
    expect(c.invalid).toEqual([]);
    c.close();
  });
});
