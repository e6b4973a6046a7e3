// The record hash of a plain raw or sparse file runs in a worker that reads the file itself, and it starts when the
// hash is asked for (after the transfer, in a station job), not beside the stream: the stream runs alone.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openImage } from '../../../src/images/index.js';
import { until } from '../../helpers/until.js';
import { randomImage, tempDir } from './helpers.js';

const t = tempDir('fs-images-lazy-');
afterAll(() => t.cleanup());
const p = (name: string): string => join(t.dir, name);
let raw: Buffer;

beforeAll(() => {
  raw = randomImage(91, 4000);
  writeFileSync(p('img.raw'), raw);
  execFileSync('img2simg', [p('img.raw'), p('img.simg')]);
}, 60_000);

/** Threads of this process (a worker thread is one more). */
const threads = (): number => readdirSync('/proc/self/task').length;

describe.skipIf(process.platform !== 'linux')('offloaded record hash', () => {
  for (const name of ['img.raw', 'img.simg']) {
    it(`of ${name} starts only when sha256() is asked for, and is the expanded image's`, async () => {
      const source = await openImage(p(name));
      expect(source.hashStarted).toBe(true); // it settles without further reads: the core follows it
      const it = source.chunks()[Symbol.asyncIterator]();
      const first = await it.next(); // the file reads are under way (the thread pool exists from here on)
      expect(first.done).toBe(false);
      const base = threads();
      let most = base;
      for (let r = await it.next(); !r.done; r = await it.next()) most = Math.max(most, threads());
      // No worker ran beside the stream (the old behaviour started one on the first read).
      expect(most).toBe(base);
      const before = threads();
      const asked = source.sha256();
      // the worker starts now (once a stat has shown the file is unchanged)
      await until(() => threads() === before + 1);
      expect(threads()).toBe(before + 1);
      expect(await asked).toBe(createHash('sha256').update(raw).digest('hex'));
      expect(await source.sha256()).toBe(await asked); // asking again does not start a second one
    });
  }
});
