// Headless, without root: a user in the `disk` group writes a disk directly; a user with neither root nor `disk` is
// refused before anything is written, with a message saying what to do. Runs the block family in a child process
// started with setpriv as `nobody` (the test itself runs as root to make the loop devices).
import { chmodSync, chownSync, mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeLoop, type Loop } from './loop.js';
import { head, makeImage, sameBytes } from './images.js';

const MiB = 1 << 20;
const NOBODY = 65534;
const DISK_GID = 6;
const root = resolve(import.meta.dirname, '../../../..');
// Inside the repository, so the bundle finds node_modules (koffi, lzma-native) the way the station does.
const entry = join(root, 'node_modules/.cache/flash-station-tests/block-as-user.mjs');
const loops: Loop[] = [];
afterEach(() => {
  for (const l of loops.splice(0)) l.detach();
});

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('this test runs as root: it makes loop devices and starts a child as nobody');
  mkdirSync(join(root, 'node_modules/.cache/flash-station-tests'), { recursive: true });
  await build({ entryPoints: [join(import.meta.dirname, 'as-user-entry.ts')], outfile: entry, bundle: true, platform: 'node',
    target: 'node20', format: 'esm', packages: 'external', logLevel: 'warning', define: { __FLASH_STATION_VERSION__: '"test"' } });
});

/** Flash `image` onto `dev` in a child running as nobody, with the `disk` group or without any. */
function asNobody(image: string, dev: string, groups: 'disk' | 'none'): { ok: boolean; code?: string; message?: string; logs: string[] } {
  const r = spawnSync('setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY),
    ...(groups === 'disk' ? ['--groups', String(DISK_GID)] : ['--clear-groups']), process.execPath, entry, image, dev], { encoding: 'utf8', timeout: 60_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (!line.startsWith('{')) throw new Error(`the child printed no result (exit ${r.status}): ${r.stderr.slice(-1500)}`);
  return JSON.parse(line) as { ok: boolean; code?: string; message?: string; logs: string[] };
}

function setup(): { disk: Loop; image: string; raw: string } {
  const disk = makeLoop(16 * MiB, { fill: 0x77 });
  loops.push(disk);
  chmodSync(disk.dir, 0o755);
  const img = makeImage(join(disk.dir, 'os.img'), 8 * MiB, [{ start: MiB, end: 3 * MiB }]);
  return { disk, image: img.xz, raw: img.raw };
}

describe('writing a disk without root', () => {
  it('a user with neither root nor the disk group is refused up front, told how to get the right', () => {
    const { disk, image } = setup();
    const r = asNobody(image, disk.dev, 'none');
    expect(r).toMatchObject({ ok: false, code: 'permission_denied' });
    expect(r.message).toContain(`cannot write ${disk.dev}`);
    expect(r.message).toContain(`runs as uid ${NOBODY} without either`);
    expect(r.message).toMatch(/usermod -aG disk/);
    expect(head(disk.dev, MiB).every((b) => b === 0x77)).toBe(true);
  });

  it('a member of the disk group writes it directly, byte-exact, read back', () => {
    const { disk, image, raw } = setup();
    chownSync(disk.dev, 0, DISK_GID);
    chmodSync(disk.dev, 0o660);
    const r = asNobody(image, disk.dev, 'disk');
    expect(r).toMatchObject({ ok: true });
    expect(r.logs).toContain(`Read back ${disk.dev} with direct I/O: it matches what was written`);
    expect(sameBytes(raw, disk.dev)).toBe(true);
  });
});
