// The record hash's worker runs its own CommonJS code whatever flags started the station: `serve` launched as
// `node --input-type=module -e …` (as embedding tools and our CLI tests do) once made every record hash fail with
// "require is not defined in ES module scope".
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'hash-worker-flags-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('hashFileInWorker under a module-typed parent', () => {
  it('hashes when the process was started with --input-type=module', async () => {
    const bundle = join(dir, 'hash-worker.mjs');
    await build({ entryPoints: [join(import.meta.dirname, '../../../src/images/hash-worker.ts')], bundle: true, platform: 'node', format: 'esm', outfile: bundle, logLevel: 'silent' });
    const data = randomBytes(300_000);
    const image = join(dir, 'image.bin');
    writeFileSync(image, data);
    const script = `
      const { SegmentList, hashFileInWorker } = await import(${JSON.stringify(pathToFileURL(bundle).href)});
      const segs = new SegmentList();
      segs.file(0, ${data.length});
      console.log(await hashFileInWorker(${JSON.stringify(image)}, segs.done()));
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(createHash('sha256').update(data).digest('hex'));
  });
});
