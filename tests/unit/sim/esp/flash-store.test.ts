// The ESP simulator's flash file: no handle left open (to garbage collection) when the store cannot be set up.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FlashStore } from '../../../../src/sim/esp/flash-store.js';
import { openFilesUnder } from '../../../helpers/open-files.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sim-esp-flash-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('FlashStore.open', () => {
  it('keeps the file open until close()', async () => {
    const store = await FlashStore.open(dir, 4096);
    expect(openFilesUnder(dir)).toEqual([join(dir, 'flash.bin')]);
    await store.close();
    expect(openFilesUnder(dir)).toEqual([]);
  });

  it('closes the file when the flash cannot be set up', async () => {
    // 2^40 bytes cannot be held in memory: the image buffer fails after the file is open.
    await expect(FlashStore.open(dir, 2 ** 40)).rejects.toThrow();
    expect(openFilesUnder(dir)).toEqual([]);
  });
});
