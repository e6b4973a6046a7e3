#!/usr/bin/env node
// The `flash-station` command: runs the bundled CLI built by `npm run build` (the `prepare` step of `npm ci`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
if (!existsSync(cli)) {
  console.error('flash-station: dist/cli.js is missing — run `npm run build` (npm ci does it for you).');
  process.exit(2);
}
const { main } = await import(cli);
process.exitCode = await main(process.argv.slice(2));
