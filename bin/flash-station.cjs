#!/usr/bin/env node
// The `flash-station` command: runs the bundled CLI built by `npm run build` (the `prepare` step of `npm ci`).
// CommonJS, like dist/cli.cjs: the client commands (flash, devices, jobs …) then start without Node's ES module loader
// (scripts/cli-build.mjs).
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const cli = join(__dirname, '..', 'dist', 'cli.cjs');
if (!existsSync(cli)) {
  console.error('flash-station: dist/cli.cjs is missing — run `npm run build` (npm ci does it for you).');
  process.exit(2);
}
require(cli)
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
    // A finished command must end the process, even if something it used is still open (a device that never closes
    // its side of a socket, a stuck native handle): a station told to stop stops. Nothing open: Node exits before this.
    setTimeout(() => {
      process.stderr.write('flash-station: something was still open 3 s after the command finished; exiting anyway\n');
      process.exit(code);
    }, 3000).unref();
  });
