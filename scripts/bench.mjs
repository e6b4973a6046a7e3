#!/usr/bin/env node
// `npm run bench [-- NAME…]`: bundles each bench/*.bench.ts with esbuild and runs it with Node, one after another.
// Each benchmark prints a table (with ratios against the real tool where one exists) and writes
// bench/results/NAME.json. BENCH_QUICK=1 shrinks the work for a smoke run.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const wanted = process.argv.slice(2);
const benches = readdirSync(join(root, 'bench')).filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => !wanted.length || wanted.some((w) => f.includes(w))).sort();
const outDir = join(root, 'bench', 'results', '.build');
mkdirSync(outDir, { recursive: true });
let failed = 0;
for (const file of benches) {
  const outfile = join(outDir, file.replace(/\.ts$/, '.mjs'));
  await build({ entryPoints: [join(root, 'bench', file)], outfile, bundle: true, platform: 'node', target: 'node20',
    format: 'esm', packages: 'external', logLevel: 'warning', absWorkingDir: root,
    define: { __FLASH_STATION_VERSION__: '"bench"' } });
  console.log(`\n### ${file}`);
  const r = spawnSync(process.execPath, ['--expose-gc', outfile], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) { failed++; console.error(`${file} exited ${r.status}`); }
}
process.exit(failed ? 1 : 0);
