#!/usr/bin/env node
// Builds what `npx flash-station` and the desktop app run: Node bundles with esbuild, the renderer with Vite.
// Runs from `prepare`, so a fresh `npm ci` leaves a working CLI. Entry points that do not exist yet are skipped.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { buildCli } from './cli-build.mjs';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
mkdirSync(join(root, 'dist'), { recursive: true });
const define = { __FLASH_STATION_VERSION__: JSON.stringify(pkg.version) };
const common = { bundle: true, platform: 'node', target: 'node20', sourcemap: true, logLevel: 'warning', define, absWorkingDir: root };

const jobs = [];
if (existsSync(join(root, 'src/cli/main.ts'))) jobs.push(buildCli({ root, outdir: join(root, 'dist'), define }));
if (existsSync(join(root, 'src/main/main.ts'))) {
  jobs.push(build({ ...common, entryPoints: ['src/main/main.ts'], outfile: 'dist/main.js', format: 'esm', packages: 'external' }));
}
if (existsSync(join(root, 'src/preload/preload.ts'))) {
  // A sandboxed preload is CommonJS and may require only 'electron'.
  jobs.push(build({ ...common, entryPoints: ['src/preload/preload.ts'], outfile: 'dist/preload.cjs', format: 'cjs', external: ['electron'] }));
}
await Promise.all(jobs);

// The block-device privilege helper (C, no dependencies; docs/block.md): built where a C compiler is, packed for the deb.
if (process.platform === 'linux' && existsSync(join(root, 'src/drivers/block/helper/block-helper.c'))) {
  mkdirSync(join(root, 'dist/block-helper'), { recursive: true });
  const cc = spawnSync(process.env.CC || 'cc', ['-O2', '-Wall', '-Wextra', '-o', 'dist/block-helper/flash-station-block-helper',
    'src/drivers/block/helper/block-helper.c'], { cwd: root, stdio: 'inherit' });
  if (cc.status !== 0) console.warn('flash-station: no C compiler (cc): the desktop block helper was not built');
}

if (existsSync(join(root, 'src/renderer/index.html')) && !process.argv.includes('--no-renderer')) {
  const { build: viteBuild } = await import('vite');
  await viteBuild({ root, configFile: join(root, 'vite.config.ts'), logLevel: 'warn' });
}
console.log('flash-station: build done');
