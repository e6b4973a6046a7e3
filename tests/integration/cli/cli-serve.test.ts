// `flash-station serve` as a real process over the real station and a simulated fastboot device: the two ready
// lines, the token file, a flash through it, and SIGTERM mid-job (job cancelled cleanly, exit 0).
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { captureIo as io } from '../../helpers/cli-io.js';
import { spawnCli, type CliProcess } from '../../helpers/cli-process.js';
import { until } from '../../helpers/until.js';
import { makeImage } from '../server/helpers/harness.js';

const root = resolve(import.meta.dirname, '../../..');
const bundle = join(root, 'node_modules', '.cache', 'flash-station-tests', `cli-${process.pid}.mjs`);
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fs-serve-'));
  await build({
    entryPoints: [join(root, 'src/cli/main.ts')], outfile: bundle, bundle: true, platform: 'node', target: 'node20', format: 'esm',
    packages: 'external', logLevel: 'warning', define: { __FLASH_STATION_VERSION__: '"9.9.9-test"' },
  });
});
const children: ChildProcess[] = [];
afterAll(async () => {
  // A failed test leaves its station running: stop it, so no process outlives the run.
  await Promise.all(children.filter((c) => c.exitCode === null && c.signalCode === null).map((c) => new Promise((r) => {
    c.once('exit', r);
    c.kill('SIGKILL');
  })));
  await rm(dir, { recursive: true, force: true });
  await rm(bundle, { force: true });
});

function serve(args: string[]): CliProcess {
  const p = spawnCli(bundle, ['serve', ...args], 2, root);
  children.push(p.child);
  return p;
}


describe('flash-station serve', () => {
  it('prints the two ready lines, writes the token file, flashes, and stops cleanly on SIGTERM mid-job', async () => {
    const dataDir = join(dir, 'data');
    const s = serve(['--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, '--no-usb', '--no-serial',
      '--sim', 'fastboot:SIMSERVE1?speed=4M&partitions=boot:64M,system:256M']);
    await s.ready;
    expect(s.lines[0]).toMatch(/^listening ws:\/\/127\.0\.0\.1:\d+\/flash-progress$/);
    expect(s.lines[1]).toMatch(/^ui http:\/\/127\.0\.0\.1:\d+\/\?token=\S+$/);
    const url = s.lines[0]!.slice('listening '.length);
    const token = decodeURIComponent(s.lines[1]!.split('?token=')[1]!);
    expect((await readFile(join(dataDir, 'token'), 'utf8')).trim()).toBe(token);
    expect((await stat(join(dataDir, 'token'))).mode & 0o777).toBe(0o600);

    const devices = io();
    expect(await main(['devices', '--url', url, '--json'], devices)).toBe(0);
    expect((JSON.parse(devices.out) as Array<{ id: string }>).map((d) => d.id)).toContain('SIMSERVE1');

    // A small image completes; a large one (4 MiB/s link) is still running when SIGTERM arrives.
    const small = await makeImage(dir, 'small.img', 512 * 1024);
    const done = io();
    expect(await main(['flash', '--url', url, '--data-dir', dataDir, '--device', 'SIMSERVE1', 'boot', small], done)).toBe(0);
    const big = await makeImage(dir, 'big.img', 48 * 1024 * 1024);
    const running = io();
    const flashing = main(['flash', '--url', url, '--token', token, '--device', 'SIMSERVE1', '--json', 'boot', big], running);
    await until(() => running.out.includes('"flash_progress"'), 60_000, 'the big flash to move');
    s.child.kill('SIGTERM');
    expect(await s.exit).toBe(0);
    expect(s.stderr()).toContain('SIGTERM');
    const code = await flashing;
    const events = running.out.trim().split('\n').map((l) => JSON.parse(l) as { type: string; reason?: string });
    expect(events.at(-1)).toMatchObject({ type: 'flash_failed', reason: 'cancelled' });
    expect(code).toBe(130);
  });

  it('exits 1 with a clear message when the port is taken', async () => {
    const first = serve(['--port', '0', '--data-dir', join(dir, 'd1'), '--no-usb', '--no-serial']);
    await first.ready;
    const port = /:(\d+)\//.exec(first.lines[0]!)![1]!;
    const second = serve(['--port', port, '--data-dir', join(dir, 'd2'), '--no-usb', '--no-serial']);
    expect(await second.exit).toBe(1);
    expect(second.stderr()).toMatch(/in use/);
    first.child.kill('SIGINT');
    expect(await first.exit).toBe(0);
  });

  it('flash exits 1 with the reason when the station is killed mid-job and restarts on the same data dir', async () => {
    const dataDir = join(dir, 'killed');
    const sim = 'fastboot:SIMKILL1?speed=4M&partitions=boot:64M';
    const first = serve(['--port', '0', '--data-dir', dataDir, '--no-usb', '--no-serial', '--sim', sim]);
    await first.ready;
    const url = first.lines[0]!.slice('listening '.length);
    const port = /:(\d+)\//.exec(url)![1]!;
    const big = await makeImage(dir, 'killed.img', 48 * 1024 * 1024);
    const t = io();
    const flashing = main(['flash', '--url', url, '--data-dir', dataDir, '--device', 'SIMKILL1', 'boot', big], t);
    await until(() => /\d+\.\d% /.test(t.out), 60_000, 'the flash to move');
    first.child.kill('SIGKILL');
    await first.exit;
    // The same port and data dir: history finds the job running and marks it interrupted.
    const again = serve(['--port', port, '--data-dir', dataDir, '--no-usb', '--no-serial', '--sim', sim]);
    await again.ready;
    const code = await Promise.race([flashing, new Promise<string>((r) => setTimeout(() => r('still waiting after 40 s'), 40_000))]);
    expect(code).toBe(1);
    expect(t.err).toContain('the station restarted');
    expect(t.err).toMatch(/failed: .*interrupted/i);
    again.child.kill('SIGINT');
    expect(await again.exit).toBe(0);
  }, 90_000);

  it('flash --json exits 1 with the interrupted event when it retried while the station was down', async () => {
    const dataDir = join(dir, 'killed-json');
    const sim = 'fastboot:SIMKILL2?speed=4M&partitions=boot:64M';
    const first = serve(['--port', '0', '--data-dir', dataDir, '--no-usb', '--no-serial', '--sim', sim]);
    await first.ready;
    const url = first.lines[0]!.slice('listening '.length);
    const port = /:(\d+)\//.exec(url)![1]!;
    const big = await makeImage(dir, 'killed-json.img', 48 * 1024 * 1024);
    const t = io();
    const flashing = main(['flash', '--url', url, '--data-dir', dataDir, '--device', 'SIMKILL2', '--json', 'boot', big], t);
    await until(() => t.out.includes('"flash_progress"'), 60_000, 'the flash to move');
    first.child.kill('SIGKILL');
    await first.exit;
    // The station stays down long enough for the CLI's first reconnects (0.5 s, 1 s, 2 s backoff) to be refused.
    await new Promise((r) => setTimeout(r, 3000));
    const again = serve(['--port', port, '--data-dir', dataDir, '--no-usb', '--no-serial', '--sim', sim]);
    await again.ready;
    const code = await Promise.race([flashing, new Promise<string>((r) => setTimeout(() => r('still waiting after 40 s'), 40_000))]);
    expect(code).toBe(1);
    const last = JSON.parse(t.out.trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(last).toMatchObject({ type: 'flash_failed', deviceId: 'SIMKILL2', reason: 'interrupted', code: 'interrupted', source: 'history' });
    expect(last.error).toMatch(/interrupted/i);
    again.child.kill('SIGINT');
    expect(await again.exit).toBe(0);
  }, 90_000);
});
