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
const code = await main(process.argv.slice(2));
process.exitCode = code;
// A finished command must end the process, even if something it used is still open (a device that never closes its
// side of a socket, a stuck native handle): a station told to stop stops. Nothing open: Node exits before this fires.
setTimeout(() => {
  process.stderr.write('flash-station: something was still open 3 s after the command finished; exiting anyway\n');
  process.exit(code);
}, 3000).unref();
