// readSmallFile: plan files are read only when they are regular files within the bound; a FIFO never blocks.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSmallFile, SMALL_FILE_MAX } from '../../../src/images/small-file.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'small-file-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readSmallFile', () => {
  it('reads a regular file, up to and including the bound', async () => {
    const p = join(dir, 'a.json');
    await writeFile(p, '{"steps":[]}');
    expect(await readSmallFile(p)).toBe('{"steps":[]}');
    await writeFile(p, 'x'.repeat(100));
    expect(await readSmallFile(p, { maxBytes: 100 })).toHaveLength(100);
    await writeFile(p, '');
    expect(await readSmallFile(p)).toBe('');
  });

  it('refuses a file over the bound with image_invalid, naming what it is', async () => {
    const p = join(dir, 'big.json');
    await writeFile(p, 'x'.repeat(101));
    await expect(readSmallFile(p, { maxBytes: 100, what: 'a flasher_args.json' })).rejects.toMatchObject({
      code: 'image_invalid',
      message: expect.stringMatching(/big\.json is over 100 bytes; a flasher_args\.json is at most 100 bytes/),
    });
    expect(SMALL_FILE_MAX).toBe(1 << 20);
  });

  it('refuses a FIFO at once instead of waiting for a writer, and a device or folder', async () => {
    const fifo = join(dir, 'plan.fifo');
    execFileSync('mkfifo', [fifo]);
    const started = performance.now();
    await expect(readSmallFile(fifo, { what: 'a manifest' })).rejects.toMatchObject({ code: 'image_unreadable', message: expect.stringMatching(/not a regular file; a manifest must be one/) });
    expect(performance.now() - started).toBeLessThan(5000);
    await expect(readSmallFile('/dev/zero')).rejects.toMatchObject({ code: 'image_unreadable' });
    await expect(readSmallFile(dir)).rejects.toMatchObject({ code: 'image_unreadable' });
  });

  it('says a missing file is not found', async () => {
    await expect(readSmallFile(join(dir, 'nope.json'))).rejects.toMatchObject({ code: 'image_not_found' });
  });
});
