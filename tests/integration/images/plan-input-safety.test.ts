// Plan paths that are not regular files (a FIFO, /dev/zero) are refused at once, and a manifest that does not parse
// is named by line and column without echoing its text (issue 15, defects 4 and 5).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadPlan } from '../../../src/images/index.js';
import { tempDir } from './helpers.js';

const t = tempDir();
afterAll(() => t.cleanup());
const p = (name: string): string => join(t.dir, name);

describe('plan paths that are not regular files', () => {
  it('refuses a FIFO given as the plan without blocking on it', async () => {
    execFileSync('mkfifo', [p('plan.fifo')]);
    await expect(loadPlan(p('plan.fifo'))).rejects.toMatchObject({ code: 'image_unreadable', message: expect.stringMatching(/not a regular file/) });
  });

  it('refuses a FIFO standing as a bundle folder manifest', async () => {
    mkdirSync(p('fifo-bundle'));
    execFileSync('mkfifo', [join(p('fifo-bundle'), 'flash.json')]);
    await expect(loadPlan(p('fifo-bundle'))).rejects.toMatchObject({ code: 'image_unreadable' });
  });

  it('refuses /dev/zero without reading it', async () => {
    const before = process.memoryUsage().rss;
    await expect(loadPlan('/dev/zero')).rejects.toMatchObject({ code: 'image_unreadable' });
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
  });

  it('refuses an oversized manifest in a bundle folder', async () => {
    mkdirSync(p('big-bundle'));
    writeFileSync(join(p('big-bundle'), 'flash.json'), `{"steps":[${' '.repeat(2 << 20)}]}`);
    await expect(loadPlan(p('big-bundle'))).rejects.toMatchObject({ code: 'image_invalid', message: expect.stringMatching(/at most/) });
  });
});

describe('manifests that do not parse', () => {
  it('names the line and column of a YAML error and never the text', async () => {
    writeFileSync(p('secret.yaml'), 'name: x\napi_key: SECRETKEY-XYZ\nsteps: [ {op: flash\n  - : :\n');
    const err = await loadPlan(p('secret.yaml')).then(() => new Error('loaded'), (e: unknown) => e as Error);
    expect(err).toMatchObject({ code: 'image_invalid' });
    expect(err.message).toMatch(/line \d+, column \d+/);
    expect(err.message).not.toMatch(/SECRETKEY|api_key|flash/);
  });

  it('names the line and column of a JSON error and never the text', async () => {
    writeFileSync(p('secret.json'), '{\n  "api_key": "SECRETKEY-XYZ",\n  "steps": [ oops ]\n}\n');
    const err = await loadPlan(p('secret.json')).then(() => new Error('loaded'), (e: unknown) => e as Error);
    expect(err).toMatchObject({ code: 'image_invalid' });
    expect(err.message).toMatch(/line 3, column \d+/);
    expect(err.message).not.toMatch(/SECRETKEY|api_key|oops/);
  });
});
