// The simulator's download buffer: bytes staged through reused blocks into a file, read back through a window.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openFilesUnder } from '../../helpers/open-files.js';
import { DownloadStore } from '../../../src/sim/fastboot/download-store.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sim-dl-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('DownloadStore', () => {
  it('takes more bytes than its staging blocks hold, in any order, and reads them back exactly', async () => {
    const store = new DownloadStore(dir);
    await store.begin();
    const data = randomBytes(40 * 1024 * 1024 + 12345);
    const pieces: Array<[number, number]> = [];
    for (let off = 0; off < data.length; off += 3 * 1024 * 1024 + 7) pieces.push([off, Math.min(data.length, off + 3 * 1024 * 1024 + 7)]);
    pieces.reverse();
    await Promise.all(pieces.map(([a, b]) => store.stage(a, data.subarray(a, b))));
    await store.flush();
    store.size = data.length;
    expect((await stat(store.path)).size).toBe(data.length);
    const r = store.reader();
    // Across window boundaries, and at the very end.
    for (const [at, n] of [[0, 28], [4 * 1024 * 1024 - 6, 12], [10_000_000, 5 * 1024 * 1024], [data.length - 5, 10]] as const) {
      const got = Buffer.from(await r.read(at, n));
      expect(got.equals(data.subarray(at, Math.min(data.length, at + n)))).toBe(true);
    }
    expect((await store.readAll())?.equals(data)).toBe(true);
    await store.close();
    await expect(stat(store.path)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('forgets the previous download when a new one begins or the device reboots', async () => {
    const store = new DownloadStore(dir);
    await store.begin();
    await store.stage(0, Buffer.from('hello'));
    await store.flush();
    store.size = 5;
    await store.clear();
    expect(store.size).toBeUndefined();
    expect(await store.readAll()).toBeUndefined();
    expect((await stat(store.path)).size).toBe(0);
    await store.close();
  });

  it('leaves no file open when it is closed while a download begins, nor opens one after', async () => {
    // close() used to see no handle yet, and the open in flight then kept its file until garbage collection.
    const store = new DownloadStore(dir);
    const begun = store.begin().catch((e: unknown) => e); // (it may fail: the store closed under it)
    await store.close();
    await begun;
    expect(openFilesUnder(dir)).toEqual([]);
    await expect(store.begin()).rejects.toThrow(/closed/);
    expect(openFilesUnder(dir)).toEqual([]);
  });
});
