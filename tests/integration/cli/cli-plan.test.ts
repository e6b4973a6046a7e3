// `flash-station flash --plan` over the real station: a bundle folder with a manifest flashes every step through a
// simulated fastboot device; a plan naming a missing image is refused (exit 1) before anything is written.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { captureIo as io } from '../../helpers/cli-io.js';
import { launchStation, type LaunchedStation } from '../../../src/server/launch.js';
import { makeImage } from '../server/helpers/harness.js';

let dir: string;
let s: LaunchedStation;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fs-plan-'));
  s = await launchStation({ host: '127.0.0.1', port: 0, dataDir: join(dir, 'data'), usb: false, serial: false, sims: ['fastboot:PLAN0001?speed=64M&partitions=boot:64M,system:128M'] });
});
afterAll(async () => {
  await s.close();
  await rm(dir, { recursive: true, force: true });
});


describe('flash --plan', () => {
  it('flashes a bundle folder step by step and exits 0', async () => {
    const bundle = join(dir, 'bundle');
    await mkdir(bundle);
    await makeImage(bundle, 'boot.img', 1024 * 1024);
    await makeImage(bundle, 'system.img', 3 * 1024 * 1024);
    await writeFile(join(bundle, 'flash.json'), JSON.stringify({ name: 'test bundle', steps: [
      { op: 'flash', partition: 'boot', image: 'boot.img' },
      { op: 'flash', partition: 'system', image: 'system.img' },
    ] }));
    const t = io();
    const code = await main(['flash', '--url', s.url, '--token', s.token, '--device', 'PLAN0001', '--plan', bundle, '--json'], t);
    expect(t.err).toBe('');
    expect(code).toBe(0);
    const events = t.out.trim().split('\n').map((l) => JSON.parse(l) as { type: string; totalBytes?: number; stage?: string; progress?: number });
    expect(events.find((e) => e.type === 'flash_started')?.totalBytes).toBe(4 * 1024 * 1024);
    const stages = new Set(events.filter((e) => e.type === 'flash_progress').map((e) => e.stage ?? ''));
    expect([...stages].some((x) => /boot/.test(x))).toBe(true);
    expect([...stages].some((x) => /system/.test(x))).toBe(true);
    expect(events.at(-1)?.type).toBe('flash_completed');
  });

  it('is refused with exit 1 when the plan names a missing image', async () => {
    const bundle = join(dir, 'broken');
    await mkdir(bundle);
    await writeFile(join(bundle, 'flash.json'), JSON.stringify({ steps: [{ op: 'flash', partition: 'boot', image: 'nope.img' }] }));
    const t = io();
    expect(await main(['flash', '--url', s.url, '--token', s.token, '--device', 'PLAN0001', '--plan', bundle], t)).toBe(1);
    expect(t.err).toMatch(/nope\.img/);
  });
});
