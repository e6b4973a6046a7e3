#!/usr/bin/env node
// `npm start`: the desktop app when Electron can start here; otherwise one line saying why, then the headless
// station (same core, same UI in a browser) with its `ui http://…` line. Extra arguments go to `serve`.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const root = fileURLToPath(new URL('..', import.meta.url));

function electronBinary() {
  try {
    const path = require('electron');
    if (typeof path === 'string' && existsSync(path)) return { path };
    return { why: 'the Electron binary is not installed (its download failed or was skipped)' };
  } catch {
    return { why: 'the electron package is not installed (its binary download failed during npm ci)' };
  }
}

const found = electronBinary();
let why = found.why;
if (!why && !existsSync(`${root}/dist/main.js`)) why = 'the desktop bundle dist/main.js is not built (run npm run build)';
if (!why && process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
  why = 'there is no display (DISPLAY and WAYLAND_DISPLAY are unset)';
}
const child = why
  ? (console.log(`Electron cannot start here: ${why}; running the headless station instead.`),
    spawn(process.execPath, [`${root}/bin/flash-station.cjs`, 'serve', ...args], { stdio: 'inherit' }))
  : spawn(found.path, [root, ...args], { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 0 : 1)));
