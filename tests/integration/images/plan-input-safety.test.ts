// Plan paths that are not regular files (a FIFO, /dev/zero) are refused at once, and a manifest that does not parse
// is named by line and column without echoing its text (issue 15, defects 4 and 5).
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadPlan, openImage } from '../../../src/images/index.js';
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

  it('refuses a symlink to /dev/zero given as the plan, and a folder standing as the manifest', async () => {
    symlinkSync('/dev/zero', p('zero-plan.json'));
    await expect(loadPlan(p('zero-plan.json'))).rejects.toMatchObject({ code: 'image_unreadable', message: expect.stringMatching(/not a regular file/) });
    mkdirSync(join(p('dir-bundle'), 'flash.json'), { recursive: true });
    await expect(loadPlan(p('dir-bundle'))).rejects.toMatchObject({ code: 'image_unreadable', message: expect.stringMatching(/not a regular file/) });
  });

  it('refuses an oversized manifest in a bundle folder', async () => {
    mkdirSync(p('big-bundle'));
    writeFileSync(join(p('big-bundle'), 'flash.json'), `{"steps":[${' '.repeat(2 << 20)}]}`);
    await expect(loadPlan(p('big-bundle'))).rejects.toMatchObject({ code: 'image_invalid', message: expect.stringMatching(/at most/) });
  });
});

describe('images a plan names that are not regular files', () => {
  // One of each kind a plan could name in place of an image, in a bundle folder and as an inline plan's absolute path.
  const kinds: Array<[string, (path: string) => void]> = [
    ['a FIFO', (path) => execFileSync('mkfifo', [path])],
    ['/dev/zero', (path) => symlinkSync('/dev/zero', path)],
    ['a folder', (path) => mkdirSync(path)],
  ];

  it.each(kinds)('refuses %s named by a bundle manifest, before any job, without blocking', async (kind, make) => {
    const bundle = p(`bundle-${kind.replace(/\W/g, '')}`);
    mkdirSync(bundle);
    make(join(bundle, 'boot.img'));
    writeFileSync(join(bundle, 'flash.json'), JSON.stringify({ steps: [{ op: 'flash', partition: 'boot', image: 'boot.img' }] }));
    await expect(loadPlan(bundle)).rejects.toMatchObject({ code: 'image_unreadable', message: expect.stringMatching(/boot\.img is not a regular file/) });
  });

  it.each(kinds)('refuses %s named by an inline plan', async (kind, make) => {
    const image = p(`inline-${kind.replace(/\W/g, '')}.img`);
    make(image);
    await expect(loadPlan({ steps: [{ op: 'flash', partition: 'boot', image }] })).rejects.toMatchObject({ code: 'image_unreadable', message: expect.stringMatching(/not a regular file/) });
  });

  it.each(kinds)('openImage refuses %s itself, should one be swapped in after the plan was read', async (kind, make) => {
    const image = p(`swapped-${kind.replace(/\W/g, '')}.img`);
    make(image);
    await expect(openImage(image)).rejects.toMatchObject({ code: 'image_unreadable' });
  });

  it.each(kinds.slice(0, 2))('refuses %s standing as an image\'s .bmap without reading it', async (kind, make) => {
    const image = p(`mapped-${kind.replace(/\W/g, '')}.img`);
    writeFileSync(image, Buffer.alloc(64 * 1024, 1));
    make(`${image}.bmap`);
    const before = process.memoryUsage().rss;
    await expect(openImage(image)).rejects.toMatchObject({ code: 'image_unreadable', message: expect.stringMatching(/\.bmap is not a regular file/) });
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
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
