// `npm start` where Electron cannot start (no display here, and often no Electron binary): one line saying why, then
// the headless station with its two ready lines, serving; SIGTERM to `npm start`'s script reaches the station, exit 0.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');
let dir: string;
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'fs-npm-start-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

describe('npm start without a usable Electron', () => {
  it('says why in one line and runs the headless station, which stops cleanly on SIGTERM', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, FLASH_STATION_TOKEN: '' };
    delete env.DISPLAY;
    delete env.WAYLAND_DISPLAY;
    const child = spawn(process.execPath, [join(root, 'scripts/start.mjs'), '--port', '0', '--host', '127.0.0.1', '--data-dir', join(dir, 'data'), '--no-usb', '--no-serial'],
      { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const lines: string[] = [];
      let err = '';
      child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
      await new Promise<void>((ready, fail) => {
        let buf = '';
        child.stdout.on('data', (d: Buffer) => {
          buf += d.toString();
          const parts = buf.split('\n');
          buf = parts.pop()!;
          lines.push(...parts);
          if (lines.length >= 3) ready();
        });
        void exit.then((code) => fail(new Error(`npm start exited ${code} after ${JSON.stringify(lines)}: ${err}`)));
      });
      expect(lines[0]).toMatch(/^Electron cannot start here: .+; running the headless station instead\.$/);
      expect(lines[1]).toMatch(/^listening ws:\/\/127\.0\.0\.1:\d+\/flash-progress$/);
      expect(lines[2]).toMatch(/^ui http:\/\/127\.0\.0\.1:\d+\/\?token=\S+$/);
      const port = /:(\d+)\//.exec(lines[1]!)![1];
      expect(await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()).toMatchObject({ ok: true });
      child.kill('SIGTERM');
      expect(await exit).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 60_000);
});
