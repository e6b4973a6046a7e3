// The desktop app's real elevation path: pkexec → polkitd (over the system D-Bus) → the installed block helper, driven
// by the station's own HelperPool. polkit.ts starts the daemons by hand (no systemd) and installs the helper and the
// .deb's action file. Root is always authorized by polkit; an unprivileged user (nobody) is authorized only by a site
// rule (docs/block.md), and otherwise is refused with permission_denied saying why. No password agent runs here, so
// the dialog itself (pkexec exit 126 when dismissed) is covered by the unit tests only.
import { chmodSync, chownSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { createBlockFamily } from '../../../../src/drivers/block/index.js';
import { openImage } from '../../../../src/images/open.js';
import { BLOCK_HELPER_PATH, HelperPool, PKEXEC, spawnHelper } from '../../../../src/transports/block-helper.js';
import { helperLink } from './helper-link.js';
import { testContext } from '../job-context.js';
import { makeLoop, type Loop } from './loop.js';
import { head, makeImage, sameBytes } from './images.js';
import { siteRule, startPolkit, type Polkit } from './polkit.js';

const MiB = 1 << 20;
const NOBODY = 65534;
/** nobody's primary group: the group a site rule names, here. */
const NOGROUP = 'nogroup';
const root = resolve(import.meta.dirname, '../../../..');
const entry = join(root, 'node_modules/.cache/flash-station-tests/block-pkexec.mjs');
let pk: Polkit | undefined;
let why = '';
const loops: Loop[] = [];
const restores: Array<() => void> = [];

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('this test runs as root: it installs a polkit action, starts polkitd and makes loop devices');
  mkdirSync(join(root, 'node_modules/.cache/flash-station-tests'), { recursive: true });
  await build({ entryPoints: [join(import.meta.dirname, 'as-user-entry.ts')], outfile: entry, bundle: true, platform: 'node',
    target: 'node20', format: 'esm', packages: 'external', logLevel: 'warning', define: { __FLASH_STATION_VERSION__: '"test"' } });
  const r = await startPolkit();
  if (typeof r === 'string') {
    why = r;
    // CI installs the packages (.ci/run): there, a daemon that will not start is a failure, not a skip.
    if (process.env.CI) throw new Error(`the pkexec path cannot run: ${why}`);
  } else {
    pk = r;
  }
}, 60_000);
afterAll(() => pk?.stop());
afterEach(() => {
  for (const l of loops.splice(0)) l.detach();
  for (const r of restores.splice(0).reverse()) r();
});

function ready(ctx: TestContext): Polkit {
  return pk ?? ctx.skip(`pkexec cannot run here: ${why}`);
}

/** A disk (loop device) filled with 0x77 that only root may open, and an xz image of 8 MiB for it. */
function setup(): { disk: Loop; image: string; raw: string } {
  const disk = makeLoop(16 * MiB, { fill: 0x77 });
  loops.push(disk);
  const st = statSync(disk.dev);
  restores.push(() => {
    chownSync(disk.dev, st.uid, st.gid);
    chmodSync(disk.dev, st.mode & 0o7777);
  });
  chownSync(disk.dev, 0, 0);
  chmodSync(disk.dev, 0o600);
  chmodSync(disk.dir, 0o755);
  const img = makeImage(join(disk.dir, 'os.img'), 8 * MiB, [{ start: MiB, end: 3 * MiB }, { start: 5 * MiB, end: 8 * MiB }]);
  return { disk, image: img.xz, raw: img.raw };
}

/** Flash as nobody (no groups) the way the desktop app does (as-user-entry.ts `desktop`). */
function asDesktopUser(image: string, dev: string): { ok: boolean; code?: string; message?: string; logs: string[] } {
  const r = spawnSync('setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', process.execPath, entry, image, dev, 'desktop'],
    { encoding: 'utf8', timeout: 60_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (!line.startsWith('{')) throw new Error(`the child printed no result (exit ${r.status}): ${r.stderr.slice(-1500)}`);
  return JSON.parse(line) as { ok: boolean; code?: string; message?: string; logs: string[] };
}

describe('writing a disk through pkexec and polkit', () => {
  it('the rule these tests grant is the site rule docs/block.md gives administrators', () => {
    const doc = readFileSync(join(root, 'docs/block.md'), 'utf8').replace(/^ {4}/gm, '');
    expect(doc).toContain(siteRule('flash-station'));
  });

  it('as root: the family writes an xz image through pkexec and the installed helper, byte-exact, read back', async (ctx) => {
    const polkit = ready(ctx);
    await polkit.action(true);
    const { disk, image, raw } = setup();
    const spawned: string[][] = [];
    // uid: the command a desktop user gets (pkexec), although this test runs as root; the station's own spawn.
    const pool = new HelperPool(BLOCK_HELPER_PATH, { uid: NOBODY, windowMs: 50, spawn: (f, a) => (spawned.push([f, ...a]), spawnHelper(f, a)) });
    const link = helperLink(pool, disk.dev);
    const jc = testContext();
    const source = await openImage(image);
    await createBlockFamily().run(link, { op: 'flash', target: { whole: true }, source }, jc);
    await link.close();
    expect(spawned).toEqual([[PKEXEC, '--disable-internal-agent', BLOCK_HELPER_PATH, disk.dev]]);
    expect(sameBytes(raw, disk.dev)).toBe(true);
    expect(jc.stages.at(-1)).toBe(`Verifying ${disk.dev}: 100 %`);
  });

  it('a desktop user allowed by a site rule writes through pkexec; without the rule polkit refuses, nothing written', async (ctx) => {
    const polkit = ready(ctx);
    await polkit.action(true);
    await polkit.rule(NOGROUP, NOBODY);
    const { disk, image, raw } = setup();
    const ok = asDesktopUser(image, disk.dev);
    expect(ok).toMatchObject({ ok: true });
    expect(ok.logs).toContain(`This station may not write ${disk.dev} itself: writing through the privilege helper (pkexec asks for an administrator's password once per batch)`);
    expect(ok.logs).toContain(`Read back ${disk.dev} with direct I/O: it matches what was written`);
    expect(sameBytes(raw, disk.dev)).toBe(true);

    await polkit.rule(undefined, NOBODY);
    const other = setup();
    const no = asDesktopUser(other.image, other.disk.dev);
    expect(no).toMatchObject({ ok: false, code: 'permission_denied' });
    expect(no.message).toMatch(/^polkit did not allow writing disks \(action io\.flashstation\.block\.write\) \(pkexec: .*Not authorized.*\): ask an administrator/);
    expect(head(other.disk.dev, 4 * MiB).every((b) => b === 0x77)).toBe(true);
  });

  it('the polkit action not installed: permission_denied naming the missing action file, nothing written', async (ctx) => {
    const polkit = ready(ctx);
    await polkit.action(false);
    const { disk, image } = setup();
    const r = asDesktopUser(image, disk.dev);
    expect(r).toMatchObject({ ok: false, code: 'permission_denied' });
    expect(r.message).toMatch(/^the polkit action io\.flashstation\.block\.write is not installed \(\/usr\/share\/polkit-1\/actions\/io\.flashstation\.block\.policy is missing\)/);
    expect(head(disk.dev, 4 * MiB).every((b) => b === 0x77)).toBe(true);
  });
});
