// Block devices through a real station (launchStation, as `serve --no-block --block-device …` runs it): a start_flash
// naming this machine's own disk is refused with device_protected and a disk too small with image_too_large, both
// before any job exists; a loop device named with --block-device is flashed whole and read back.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchStation, type LaunchedStation } from '../../../../src/server/launch.js';
import { listDisks } from '../../../../src/drivers/block/disks.js';
import type { ResultMessage } from '../../../../src/protocol/messages.js';
import { connect, type Conn } from '../../server/helpers/harness.js';
import { makeLoop, type Loop } from './loop.js';
import { head, makeImage, sameBytes } from './images.js';

const MiB = 1 << 20;
let s: LaunchedStation;
let small: Loop;
let disk: Loop;
let systemPath: string;
let c: Conn;

beforeAll(async () => {
  const system = (await listDisks()).find((d) => d.system?.startsWith('holds /'));
  if (!system) throw new Error('this machine lists no block device holding /: the test needs one');
  systemPath = system.path;
  small = makeLoop(8 * MiB, { fill: 0x77 });
  disk = makeLoop(16 * MiB, { fill: 0x77 });
  s = await launchStation({
    host: '127.0.0.1', port: 0, dataDir: join(disk.dir, 'data'), usb: false, serial: false,
    block: false, blockDevices: [systemPath, small.dev, disk.dev],
  });
  c = await connect(`${s.url}?token=${encodeURIComponent(s.token)}`);
  await c.next((m) => m.type === 'snapshot' && m.devices.some((d) => d.id === disk.dev));
}, 30_000);
afterAll(async () => {
  c.close();
  await s.close();
  small.detach();
  disk.detach();
});

const jobsOf = async (): Promise<unknown[]> =>
  ((await (await fetch(`${s.uiUrl.replace(/\/\?token=.*$/, '')}/api/jobs`)).json()) as unknown[]);

describe('block devices through a real station', () => {
  it('does not list the system disk, and refuses a start_flash naming it with device_protected and no job', async () => {
    const snap = (await c.request({ type: 'get_snapshot' })) as unknown as { devices: Array<{ id: string; info: { capacity?: number } }> };
    expect(snap.devices.map((d) => d.id)).not.toContain(systemPath);
    expect(snap.devices.find((d) => d.id === small.dev)?.info.capacity).toBe(8 * MiB);
    const img = makeImage(join(disk.dir, 'os.img'), 2 * MiB, [{ start: MiB, end: 2 * MiB }]);
    const from = c.frames.length;
    const r = (await c.request({ type: 'start_flash', deviceId: systemPath, image: img.xz })) as ResultMessage;
    expect(r).toMatchObject({ ok: false, error: { code: 'device_protected' } });
    expect(JSON.stringify(r)).toContain(`${systemPath} holds /`);
    // Over HTTP too, with its status.
    const res = await fetch(`${s.uiUrl.replace(/\/\?token=.*$/, '')}/api/flash/start`, {
      method: 'POST', headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ deviceId: systemPath, image: img.xz }),
    });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('device_protected');
    await new Promise((r2) => setTimeout(r2, 200));
    expect(c.frames.slice(from).filter((m) => 'jobId' in m && m.type !== 'result')).toEqual([]);
    expect(await jobsOf()).toEqual([]);
  });

  it('refuses an image larger than the disk up front, naming both sizes, and leaves the disk as it was', async () => {
    const img = makeImage(join(small.dir, 'big.img'), 12 * MiB, [{ start: 0, end: MiB }]);
    const r = (await c.request({ type: 'start_flash', deviceId: small.dev, image: img.xz })) as ResultMessage & { error?: { message: string } };
    expect(r).toMatchObject({ ok: false, error: { code: 'image_too_large' } });
    expect(r.error?.message).toContain(`${12 * MiB} bytes`);
    expect(r.error?.message).toContain(`${8 * MiB} bytes`);
    expect(r.error?.message).toContain(small.dev);
    expect(await jobsOf()).toEqual([]);
    expect(head(small.dev, MiB).every((b) => b === 0x77)).toBe(true);
  });

  it('flashes a loop device named with --block-device whole, reads it back, and completes', async () => {
    const img = makeImage(join(disk.dir, 'ok.img'), 6 * MiB, [{ start: 2 * MiB, end: 4 * MiB }]);
    const r = (await c.request({ type: 'start_flash', deviceId: disk.dev, image: img.xz })) as ResultMessage & { jobId: string };
    expect(r).toMatchObject({ ok: true });
    const end = await c.next((m) => (m.type === 'flash_completed' || m.type === 'flash_failed') && m.jobId === r.jobId, 60_000);
    expect(end).toMatchObject({ type: 'flash_completed' });
    expect(c.frames.some((m) => m.type === 'flash_progress' && m.jobId === r.jobId && m.stage.startsWith(`Verifying ${disk.dev}`))).toBe(true);
    expect(sameBytes(img.raw, disk.dev)).toBe(true);
  });

  it('start_flash with verify: true adds a read-back against the image itself, and completes', async () => {
    const img = makeImage(join(disk.dir, 'v.img'), 5 * MiB, [{ start: MiB, end: 2 * MiB }]);
    const r = (await c.request({ type: 'start_flash', deviceId: disk.dev, image: img.xz, verify: true })) as ResultMessage & { jobId: string };
    expect(r).toMatchObject({ ok: true });
    const end = await c.next((m) => (m.type === 'flash_completed' || m.type === 'flash_failed') && m.jobId === r.jobId, 60_000);
    expect(end).toMatchObject({ type: 'flash_completed' });
    expect(c.frames.some((m) => m.type === 'flash_progress' && m.jobId === r.jobId && m.stage.includes('against the image'))).toBe(true);
  });
});
