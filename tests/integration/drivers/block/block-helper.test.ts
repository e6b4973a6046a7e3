// The privilege helper itself (src/drivers/block/helper/block-helper.c, built here with cc), run directly as root
// against loop devices (the same helper through pkexec and polkitd: block-pkexec.test.ts). The block family writes
// and reads back through it; one helper serves a batch; it refuses what it must refuse.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createBlockFamily } from '../../../../src/drivers/block/index.js';
import { openImage } from '../../../../src/images/open.js';
import { HelperPool, HelperSession } from '../../../../src/transports/block-helper.js';
import { helperLink } from './helper-link.js';
import { testContext } from '../job-context.js';
import { makeLoop, type Loop } from './loop.js';
import { head, makeImage, sameBytes } from './images.js';

const MiB = 1 << 20;
let bin: string;
let binDir: string;
const loops: Loop[] = [];
const cleanups: Array<() => void> = [];
const spawned: string[][] = [];

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('the block helper tests run as root (they open loop devices)');
  binDir = mkdtempSync(join(tmpdir(), 'fs-helper-bin-'));
  bin = join(binDir, 'flash-station-block-helper');
  try {
    execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', bin, resolve('src/drivers/block/helper/block-helper.c')], { stdio: 'pipe' });
  } catch (e) {
    throw new Error(`cannot build the block helper (cc, Debian package gcc, is needed): ${(e as { stderr?: Buffer }).stderr?.toString() ?? String(e)}`);
  }
});
afterAll(() => rmSync(binDir, { recursive: true, force: true }));
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
  for (const l of loops.splice(0)) l.detach();
  spawned.length = 0;
});
function loop(size: number, fill?: number): Loop {
  const l = makeLoop(size, fill === undefined ? {} : { fill });
  loops.push(l);
  return l;
}

const pool = (): HelperPool => new HelperPool(bin, {
  uid: 0, windowMs: 100,
  spawn: (file, args) => {
    spawned.push([file, ...args]);
    return spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  },
});
/** The helper's hello for these arguments: each device's status (0 or -errno). */
function helloStatuses(args: string[]): number[] {
  const r = spawnSync(bin, args, { input: '' });
  const out = r.stdout;
  expect(out.toString('latin1', 0, 4)).toBe('FSBH');
  return Array.from({ length: out[5] ?? 0 }, (_, i) => out.readInt32LE(6 + i * 16));
}

describe('block helper on loop devices', () => {
  it('the block family writes an xz image through the helper and reads it back byte-exact', async () => {
    const disk = loop(32 * MiB, 0x77);
    const img = makeImage(join(disk.dir, 'os.img'), 20 * MiB + 512, [{ start: MiB, end: 3 * MiB }, { start: 12 * MiB, end: 20 * MiB + 512 }]);
    const ctx = testContext();
    const source = await openImage(img.xz);
    const link = helperLink(pool(), disk.dev);
    await createBlockFamily().run(link, { op: 'flash', target: { whole: true }, source }, ctx);
    await link.close();
    expect(spawned).toEqual([[bin, disk.dev]]);
    expect(sameBytes(img.raw, disk.dev)).toBe(true);
    expect(ctx.stages.at(-1)).toBe(`Verifying ${disk.dev}: 100 %`);
    expect(ctx.bytesMoved).toBe(source.dataBytes);
  });

  it('one helper serves a batch: two disks opened together share one process', async () => {
    const a = loop(8 * MiB);
    const b = loop(8 * MiB);
    const p = pool();
    const [ia, ib] = await Promise.all([p.open(a.dev), p.open(b.dev)]);
    expect(spawned).toEqual([[bin, a.dev, b.dev]]);
    const data = Buffer.alloc(MiB, 0x5a);
    await Promise.all([ia.write(2 * MiB, data), ib.write(4 * MiB, data)]);
    expect(await ia.zeroOut(0, MiB)).toBe(true);
    await Promise.all([ia.sync(), ib.sync()]);
    const back = Buffer.alloc(MiB);
    expect(await ib.read(4 * MiB, back)).toBe(MiB);
    expect(back.equals(data)).toBe(true);
    await Promise.all([ia.close(), ib.close()]);
    expect(head(a.dev, 3 * MiB).subarray(2 * MiB).equals(data)).toBe(true);
  });

  it('refuses to open a mounted disk (device_busy), the system disk, a path outside /dev and a node that is no disk', async () => {
    const disk = loop(16 * MiB);
    execFileSync('mkfs.ext4', ['-q', '-F', disk.dev]);
    const mnt = join(disk.dir, 'mnt');
    mkdirSync(mnt);
    execFileSync('mount', [disk.dev, mnt]);
    cleanups.push(() => execFileSync('umount', [mnt]));
    await expect(pool().open(disk.dev)).rejects.toMatchObject({ code: 'device_busy' });
    const file = join(disk.dir, 'plain.bin');
    writeFileSync(file, Buffer.alloc(MiB));
    const rootDisk = execFileSync('findmnt', ['-n', '-o', 'SOURCE', '/'], { encoding: 'utf8' }).trim();
    // A symlink (as /dev/disk/by-id/… are) is resolved: what it points to is checked and opened.
    const free = loop(MiB);
    const link = `/dev/shm/fs-helper-test-${process.pid}`;
    symlinkSync(free.dev, link);
    cleanups.push(() => rmSync(link, { force: true }));
    const [mounted, outside, notBlock, system, linked] = helloStatuses([disk.dev, file, '/dev/null', rootDisk.startsWith('/dev/') ? rootDisk : '/dev/vda', link]);
    expect(mounted).toBe(-16); // EBUSY: O_EXCL on a disk with a mounted file system
    expect(outside).toBe(-22); // EINVAL: not under /dev
    expect(notBlock).toBe(-15); // ENOTBLK
    expect(system).toBeLessThan(0); // the disk holding /: O_EXCL (EBUSY) or the container's device rules (EPERM)
    expect(linked).toBe(0);
  });

  it('checks every request itself: out of range, unaligned, and a malformed request ends it', async () => {
    const disk = loop(4 * MiB, 0x11);
    const s = new HelperSession({ file: bin, args: [disk.dev] }, [disk.dev], (f, a) => spawn(f, a, { stdio: ['pipe', 'pipe', 'pipe'] }));
    const [hello] = await s.ready;
    expect(hello).toEqual({ status: 0, sectorSize: 512, size: 4 * MiB });
    expect((await s.request(0, 'W', 4 * MiB, 512, Buffer.alloc(512))).result).toBe(-28); // ENOSPC
    expect((await s.request(0, 'W', 100, 512, Buffer.alloc(512))).result).toBe(-22); // EINVAL: not sector-aligned
    expect((await s.request(0, 'R', 0, 512)).data?.every((b) => b === 0x11)).toBe(true);
    expect(head(disk.dev, 4096).every((b) => b === 0x11)).toBe(true);
    const bad = s.request(1, 'S', 0, 0); // device 1 was never given
    await expect(bad).rejects.toMatchObject({ code: 'device_error', message: expect.stringContaining('request for a device that was not given') as string });
  });
});
