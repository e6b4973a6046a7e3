// Plans over the wire that name things that are not regular files (issue 15, defect 4): four FIFO plans used to hold
// all four libuv workers, so `GET /` timed out and a normal start_flash got no answer; /dev/zero filled memory. Each is
// now refused at once, and the station goes on answering. And a plan that does not parse is answered with its line
// and column, never its text (defect 5).
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdirSync, openSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ResultMessage } from '../../../src/protocol/messages.js';
import { launchStation } from '../../../src/server/launch.js';
import { connect, makeImage } from './helpers/harness.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** `p`, or `late` once `ms` pass (timers need no libuv worker, so this answers even when the file I/O is stuck). */
const within = <T>(p: Promise<T>, ms: number): Promise<T | 'late'> =>
  Promise.race([p, new Promise<'late'>((r) => setTimeout(() => r('late'), ms))]);

describe('plan paths over the wire', () => {
  it('four FIFO plans, a FIFO manifest and image, /dev/zero: refused at once; GET / and a real flash still answer', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fs-planpaths-'));
    const fifos: string[] = [];
    const fifo = (path: string): string => {
      execFileSync('mkfifo', [path]);
      fifos.push(path);
      return path;
    };
    cleanup.push(async () => {
      // Should a read still wait on a FIFO (the bug), a writer that opens and closes lets it go, so the run can end.
      for (const f of fifos) {
        try {
          closeSync(openSync(f, constants.O_WRONLY | constants.O_NONBLOCK));
        } catch {
          // no reader waits on it
        }
      }
      await rm(dir, { recursive: true, force: true });
    });
    const s = await launchStation({ host: '127.0.0.1', port: 0, dataDir: join(dir, 'data'), usb: false, serial: false, sims: ['fastboot:PP0001?speed=64M&partitions=boot:16M'] });
    const c = await connect(`${s.url}?token=${encodeURIComponent(s.token)}`);
    cleanup.push(async () => {
      c.close();
      await s.close();
    });

    const bundle = join(dir, 'bundle');
    mkdirSync(bundle);
    fifo(join(bundle, 'flash.json'));
    const imageBundle = join(dir, 'image-bundle');
    mkdirSync(imageBundle);
    fifo(join(imageBundle, 'boot.img'));
    writeFileSync(join(imageBundle, 'flash.json'), JSON.stringify({ steps: [{ op: 'flash', partition: 'boot', image: 'boot.img' }] }));
    symlinkSync('/dev/zero', join(dir, 'zero.yaml'));
    const plans = [
      ...[1, 2, 3, 4].map((i) => fifo(join(dir, `plan${i}.json`))),
      bundle, imageBundle, '/dev/zero', join(dir, 'zero.yaml'),
    ];
    const rssBefore = process.memoryUsage().rss;
    const answers = await within(Promise.all(plans.map((plan) => c.request({ type: 'start_flash', deviceId: 'PP0001', plan }, 10_000) as Promise<ResultMessage>)), 10_000);
    expect(answers).not.toBe('late');
    for (const [i, r] of (answers as ResultMessage[]).entries()) {
      expect(r, plans[i]).toMatchObject({ ok: false, error: { code: 'image_unreadable', message: expect.stringMatching(/not a regular file/) } });
    }
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(256 * 1024 * 1024);

    // The file I/O is free: the UI's page answers (whatever its status without a built UI) and a real flash runs.
    const page = await within(fetch(`http://127.0.0.1:${s.port}/`).then((r) => r.status), 5000);
    expect(page).not.toBe('late');
    const image = await makeImage(dir, 'boot.img', 1 << 20);
    const ok = (await c.request({ type: 'start_flash', deviceId: 'PP0001', partition: 'boot', image }, 5000)) as ResultMessage & { jobId: string };
    expect(ok).toMatchObject({ ok: true });
    expect(await c.next((m) => (m.type === 'flash_completed' || m.type === 'flash_failed') && m.jobId === ok.jobId, 30_000)).toMatchObject({ type: 'flash_completed' });
  });

  it.each([
    ['secret.yaml', 'name: x\napi_key: SECRETKEY-XYZ\nsteps: [ {op: flash\n  - : :\n', /not valid YAML \(line \d+, column \d+\)/],
    ['secret.json', '{\n  "api_key": "SECRETKEY-XYZ",\n  "steps": [ oops ]\n}\n', /not valid JSON \(line 3, column 14\)/],
  ])('%s that does not parse: the answer names line and column, never the text', async (name, text, place) => {
    const dir = await mkdtemp(join(tmpdir(), 'fs-planparse-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const s = await launchStation({ host: '127.0.0.1', port: 0, dataDir: join(dir, 'data'), usb: false, serial: false, sims: ['fastboot:PP0002?partitions=boot:16M'] });
    const c = await connect(`${s.url}?token=${encodeURIComponent(s.token)}`);
    cleanup.push(async () => {
      c.close();
      await s.close();
    });
    writeFileSync(join(dir, name), text);
    const r = (await c.request({ type: 'start_flash', deviceId: 'PP0002', plan: join(dir, name) })) as ResultMessage & { error: { code: string; message: string } };
    expect(r).toMatchObject({ ok: false, error: { code: 'image_invalid' } });
    expect(r.error.message).toMatch(place);
    expect(JSON.stringify(r)).not.toMatch(/SECRETKEY|api_key|oops/);
  });
});
