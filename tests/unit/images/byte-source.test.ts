// A file's byte source: the handle its random reads share is closed once nobody uses it, also after a failed read.
import { writeFileSync } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fileByteSource, fileError } from '../../../src/images/byte-source.js';
import { openFilesUnder } from '../../helpers/open-files.js';
import { until } from '../../helpers/until.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'byte-source-'));
});
afterEach(async () => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

describe('fileByteSource', () => {
  it('closes the shared handle after a second without use', async () => {
    const path = join(dir, 'a.img');
    writeFileSync(path, Buffer.alloc(8192, 1));
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const src = fileByteSource(path, 0, 8192, 'a.img');
    expect((await src.readAt?.(0, 10))?.length).toBe(10);
    expect(openFilesUnder(dir)).toEqual([path]);
    vi.advanceTimersByTime(1100);
    vi.useRealTimers();
    await until(() => openFilesUnder(dir).length === 0, 2000, 'the handle closed');
  });

  it('closes a handle opened while a failed one still had a reader (no handle left to garbage collection)', async () => {
    // One reader count for two handles: the newer handle, done first, never got its idle close.
    const path = join(dir, 'b.img');
    writeFileSync(path, Buffer.alloc(8192, 2));
    const proto = Object.getPrototypeOf(await open(path, 'r').then(async (fh) => (await fh.close(), fh))) as { read: (...a: unknown[]) => Promise<unknown> };
    const realRead = proto.read;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let first = true;
    vi.spyOn(proto, 'read').mockImplementation(async function (this: unknown, ...a: unknown[]) {
      if (first) {
        first = false;
        await gate; // reader B stays in its read
      }
      return realRead.apply(this, a);
    });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    // The source says 16 KiB: a read past the file's 8 KiB fails ("file ended early").
    const src = fileByteSource(path, 0, 16384, 'b.img');
    const b = src.readAt?.(0, 10).catch((e: unknown) => e);
    await vi.waitFor(() => expect(first).toBe(false));
    await expect(src.readAt?.(12000, 10)).rejects.toThrow(/ended early/);
    expect((await src.readAt?.(0, 10))?.length).toBe(10);
    release();
    await b;
    vi.advanceTimersByTime(1100);
    vi.useRealTimers();
    await until(() => openFilesUnder(dir).length === 0, 2000, 'every handle closed');
  });
});

describe('fileError', () => {
  it('says a missing image does not exist, and why another cannot be read', async () => {
    const missing = fileByteSource(join(dir, 'none.img'), 0, 10, 'none.img');
    await expect(missing.readAt!(0, 4)).rejects.toMatchObject({ code: 'image_not_found', message: `${join(dir, 'none.img')} does not exist` });
    const folder = fileByteSource(dir, 0, 10, 'a folder');
    await expect(folder.readAt!(0, 4)).rejects.toMatchObject({ code: 'image_unreadable', message: `${dir} cannot be read: it is a folder, not a file` });
    const blocking = folder.openSync!();
    expect(() => blocking.readAt(0, 4)).toThrow(`${dir} cannot be read: it is a folder, not a file`);
    blocking.close();
    expect(fileError(Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' }), '/x.img').message).toBe('/x.img cannot be read: permission denied');
  });
});
