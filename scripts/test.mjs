#!/usr/bin/env node
// `npm test`: type-check, lint, layering check, then unit, integration and end-to-end tests, stopping at the first
// failure. The last line is the summary over every test project: "Tests: N passed, N failed, N skipped".
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const out = mkdtempSync(join(tmpdir(), 'fs-test-'));
const totals = { passed: 0, failed: 0, skipped: 0 };
const only = process.argv.slice(2);

function run(title, cmd, args) {
  console.log(`\n=== ${title}: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, FORCE_COLOR: process.env.FORCE_COLOR ?? '0' } });
  return r.status ?? 1;
}

function finish(code) {
  console.log(`\nTests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
  process.exit(code);
}

const steps = [
  ['type-check', 'npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']],
  ['lint', 'npx', ['eslint', '--max-warnings', '0', 'src', 'tests', 'bench', 'scripts']],
  ['layering', 'node', ['scripts/check-layers.mjs']],
];
for (const [title, cmd, args] of steps) {
  if (only.length && !only.includes(title)) continue;
  if (run(title, cmd, args) !== 0) { console.error(`\n${title} failed`); finish(1); }
}
for (const project of ['unit', 'integration', 'e2e']) {
  if (only.length && !only.includes(project)) continue;
  const json = join(out, `${project}.json`);
  const code = run(`${project} tests`, 'npx', ['vitest', 'run', '--project', project, '--passWithNoTests',
    '--reporter=default', '--reporter=json', `--outputFile.json=${json}`]);
  let failed = 0;
  if (existsSync(json)) {
    const r = JSON.parse(readFileSync(json, 'utf8'));
    totals.passed += r.numPassedTests ?? 0;
    failed = r.numFailedTests ?? 0;
    totals.skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
    // A file whose beforeAll failed reports its tests as skipped, not failed: count the file.
    if (code !== 0 && failed === 0) failed = r.numFailedTestSuites ?? 0;
  }
  // However vitest failed (no report written, an error outside any test), the summary must not say 0 failed.
  if (code !== 0 && failed === 0) failed = 1;
  totals.failed += failed;
  if (code !== 0) { console.error(`\n${project} tests failed`); finish(1); }
}
finish(totals.failed ? 1 : 0);
