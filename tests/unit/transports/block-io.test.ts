// BlockDeviceIo on regular files: positional I/O, alignment rules of direct I/O, bounds, errors a technician can act on.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlockDeviceIo, blockError, createBlockLink } from '../../../src/transports/block-io.js';
import { FlashError } from '../../../src/contracts/errors.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'block-io-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function file(size: number): string {
  const p = join(dir, 'disk.img');
  writeFileSync(p, Buffer.alloc(size, 0x5a));
  return p;
}

describe('BlockDeviceIo on a regular file', () => {
  it('reports size and sector size, and writes several blocks in flight at their offsets', async () => {
    const p = file(1 << 20);
    const io = await BlockDeviceIo.open(p, { write: true });
    expect(io.size).toBe(1 << 20);
    expect(io.sectorSize).toBe(512);
    expect(io.isDevice).toBe(false);
    const blocks = [0, 1, 2, 3].map((k) => {
      const b = io.alloc(64 << 10);
      b.fill(k + 1);
      return b;
    });
    await Promise.all(blocks.map((b, k) => io.write(k * (128 << 10), b)));
    await io.sync();
    const back = io.alloc(64 << 10);
    expect(await io.read(2 * (128 << 10), back)).toBe(64 << 10);
    expect(back.every((x) => x === 3)).toBe(true);
    await io.close();
    const raw = readFileSync(p);
    expect(raw[0]).toBe(1);
    expect(raw[(64 << 10) + 5]).toBe(0x5a); // between two writes: untouched
    expect(raw[3 * (128 << 10) + 100]).toBe(4);
  });

  it('refuses a write past the end naming the disk size', async () => {
    const io = await BlockDeviceIo.open(file(4096), { write: true });
    const err = await io.write(4096, io.alloc(512)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FlashError);
    expect((err as FlashError).code).toBe('image_too_large');
    expect((err as FlashError).message).toContain('4096 bytes');
    await io.close();
  });

  it('with direct I/O, refuses unaligned offsets and lengths before the kernel sees them', async () => {
    const io = await BlockDeviceIo.open(file(8192), { write: true });
    if (!io.direct) {
      await io.close();
      return expect(io.direct).toBe(false); // this file system has no O_DIRECT: nothing to check here
    }
    await expect(io.write(100, io.alloc(512))).rejects.toMatchObject({ code: 'internal' });
    await expect(io.write(0, io.alloc(100))).rejects.toMatchObject({ code: 'internal' });
    const unaligned = io.alloc(1024).subarray(1, 513);
    await expect(io.write(0, unaligned)).rejects.toMatchObject({ code: 'internal' });
    await io.close();
  });

  it('buffered (direct: false) takes any offset and length', async () => {
    const p = file(8192);
    const io = await BlockDeviceIo.open(p, { write: true, direct: false });
    expect(io.direct).toBe(false);
    await io.write(3, new Uint8Array([1, 2, 3]));
    await io.close();
    expect([...readFileSync(p).subarray(2, 7)]).toEqual([0x5a, 1, 2, 3, 0x5a]);
  });

  it('has no ioctls on a file: zeroOut and rereadPartitions say so', async () => {
    const io = await BlockDeviceIo.open(file(8192), { write: true });
    expect(await io.zeroOut(0, 4096)).toBe(false);
    expect(await io.rereadPartitions()).toBe(false);
    await io.close();
  });

  it('a missing disk is disconnected, a folder is rejected', async () => {
    await expect(BlockDeviceIo.open(join(dir, 'nope'), { write: true })).rejects.toMatchObject({ code: 'disconnected' });
    await expect(BlockDeviceIo.open(dir, { write: true })).rejects.toMatchObject({ code: 'device_rejected' });
  });

  it('a link closes every handle it opened', async () => {
    const link = createBlockLink(file(4096));
    const a = await link.open({ write: false });
    const b = await link.open({ write: false });
    await link.close();
    await expect(a.read(0, a.alloc(512))).rejects.toMatchObject({ code: 'internal' });
    await expect(b.read(0, b.alloc(512))).rejects.toMatchObject({ code: 'internal' });
  });

  it('opens through its elevation only where this process may not write the disk', async () => {
    const path = file(4096);
    const viaHelper: string[] = [];
    const elevation = { open: async (p: string) => { viaHelper.push(p); return BlockDeviceIo.open(p, { write: false }); } };
    const direct = createBlockLink(path, elevation, () => Promise.resolve(true));
    await direct.open({ write: false });
    expect(viaHelper).toEqual([]);
    const elevated = createBlockLink(path, elevation, () => Promise.resolve(false));
    await elevated.open({ write: false });
    expect(viaHelper).toEqual([path]);
    expect(elevated.elevated).toBe(true);
    await Promise.all([direct.close(), elevated.close()]);
  });
});

describe('blockError', () => {
  const err = (code: string): Error => Object.assign(new Error(`${code}: x`), { code });
  it('maps system errors to codes with advice', () => {
    expect(blockError(err('EBUSY'), '/dev/sdz', 'open')).toMatchObject({ code: 'device_busy' });
    expect(blockError(err('EBUSY'), '/dev/sdz', 'open').message).toMatch(/mounted/);
    expect(blockError(err('ENODEV'), '/dev/sdz', 'write')).toMatchObject({ code: 'disconnected', transient: true });
    expect(blockError(err('EIO'), '/dev/sdz', 'write')).toMatchObject({ code: 'device_error', transient: true });
    expect(blockError(err('EROFS'), '/dev/sdz', 'open')).toMatchObject({ code: 'device_rejected' });
    const perm = blockError(err('EACCES'), '/dev/sdz', 'open for writing');
    expect(perm.code).toBe('permission_denied');
    expect(perm.message).toMatch(/root|disk/);
  });
});
