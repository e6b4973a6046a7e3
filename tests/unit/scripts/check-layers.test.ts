// The layering check must catch each kind of forbidden import, and pass a tree that keeps the rules.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const script = join(process.cwd(), 'scripts/check-layers.mjs');
let dir = '';

function tree(files: Record<string, string>): string {
  dir = mkdtempSync(join(tmpdir(), 'layers-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

function check(src: string) {
  const r = spawnSync(process.execPath, [script, '--src', src], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
}

afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('check-layers', () => {
  it('passes a tree that keeps the rules', () => {
    const src = tree({
      'protocol/messages.ts': 'export const A = 1;\n',
      'core/station.ts': "import { A } from '../protocol/messages.js';\nimport { readFile } from 'node:fs/promises';\n",
      'renderer/app.tsx': "import { useState } from 'react';\nimport { A } from '../protocol/messages.js';\n",
      'preload/preload.ts': "import { contextBridge } from 'electron';\n",
    });
    const r = check(src);
    expect(r.code).toBe(0);
    expect(r.out).toContain('no forbidden imports');
  });

  it.each([
    ['core importing electron', 'core/a.ts', "import { app } from 'electron';", 'must not import electron'],
    ['core importing react', 'core/a.ts', "import React from 'react';", 'must not import react'],
    ['renderer importing a Node built-in', 'renderer/a.tsx', "import { readFile } from 'node:fs';", 'Node built-ins'],
    ['renderer importing fs without node:', 'renderer/a.tsx', "import fs from 'fs';", 'Node built-ins'],
    ['renderer importing the core', 'renderer/a.tsx', "import { x } from '../core/station.js';", 'must not import core'],
    ['protocol importing a package', 'protocol/a.ts', "import WebSocket from 'ws';", 'must not import packages'],
    ['protocol importing another layer', 'protocol/a.ts', "import { x } from '../core/types.js';", 'must not import core'],
    ['client importing Node', 'client/a.ts', "const x = await import('node:net');", 'Node built-ins'],
    ['core importing a family driver', 'core/a.ts', "import { x } from '../drivers/fastboot/index.js';", 'family folder'],
    ['server importing a family simulator', 'server/a.ts', "import { x } from '../sim/fastboot/device.js';", 'family folder'],
    ['cli importing a family transport', 'cli/a.ts', "import { x } from '../transports/fastboot-tcp.js';", 'family folder'],
    ['preload importing the core', 'preload/p.ts', "import { x } from '../core/station.js';", 'must not import core'],
  ])('rejects %s', (_name, path, text, message) => {
    const r = check(tree({ [path]: text + '\n' }));
    expect(r.code).toBe(1);
    expect(r.out).toContain(message);
  });
});
