// The simulator's partition files: each opened once, and none left open on a failed open or a concurrent add.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openFilesUnder } from '../../helpers/open-files.js';
import { PartitionFile, PartitionStore } from '../../../src/sim/fastboot/partition-store.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sim-parts-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('PartitionStore', () => {
  it('opens a partition once when it is added twice at the same time, and close() closes it', async () => {
    const store = new PartitionStore(dir);
    await store.open([]);
    const [a, b] = await Promise.all([store.add('boot', 4096), store.add('boot', 4096)]);
    expect(a).toBe(b);
    expect(openFilesUnder(dir)).toEqual([join(dir, 'boot.img')]);
    await store.close();
    expect(openFilesUnder(dir)).toEqual([]);
  });

  it('closes the file when a partition cannot be sized (no handle left to garbage collection)', async () => {
    // ftruncate to 2^60 bytes fails (EFBIG/EINVAL) on every Linux file system.
    await expect(PartitionFile.open(join(dir, 'huge.img'), 2 ** 60)).rejects.toThrow();
    expect(openFilesUnder(dir)).toEqual([]);
  });

  it('closes what it opened when a later partition of the list fails', async () => {
    const store = new PartitionStore(dir);
    await expect(store.open([{ name: 'boot', size: 4096 }, { name: 'huge', size: 2 ** 60 }])).rejects.toThrow();
    expect(openFilesUnder(dir)).toEqual([]);
  });
});
