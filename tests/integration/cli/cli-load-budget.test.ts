// What the client commands (`flash`, `devices` …) load before they can talk to the station (issue 14: the CLI's start).
// Budgets of code and of loaders, not of time, on the bundle `npm run build` made (scripts/cli-build.mjs).
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = process.cwd();
const cli = join(root, 'dist', 'cli.cjs');
const bin = join(root, 'bin', 'flash-station.cjs');

/** Node's internal modules of the ES module loader that a command run loaded. */
function esmLoaderModules(args: string[]): { modules: string[]; status: number | null; stderr: string } {
  const probe = join(tmpdir(), `esm-probe-${process.pid}.cjs`);
  writeFileSync(
    probe,
    "process.on('exit', () => process.stderr.write('\\nESM-LOADER ' + process.moduleLoadList.filter((m) => /esm\\/(loader|translators|module_job)$/.test(m)).join(',') + '\\n'));\n",
  );
  let r: SpawnSyncReturns<string>;
  try {
    r = spawnSync(process.execPath, ['-r', probe, bin, ...args], { encoding: 'utf8', timeout: 20_000 });
  } finally {
    rmSync(probe, { force: true });
  }
  const line = /ESM-LOADER (.*)/.exec(r.stderr)?.[1] ?? 'missing';
  return { modules: line ? line.split(',').filter(Boolean) : [], status: r.status, stderr: r.stderr };
}

describe('the client commands’ load budget', () => {
  it('bundles them in one CommonJS file with the CLI’s own WebSocket client, not ws, under 100 KB', () => {
    expect(existsSync(cli), 'dist/cli.cjs: run `npm run build` (npm ci does)').toBe(true);
    const text = readFileSync(cli, 'utf8');
    for (const unit of ['commands/flash.ts', 'commands/list.ts', 'commands/watch.ts', 'commands/control.ts', 'cli/websocket.ts']) {
      expect(text).toContain(`// src/cli/${unit.replace(/^cli\//, '')}`);
    }
    expect(text).not.toMatch(/\/\/ node_modules\/ws\//);
    // The station, the families and the simulators are not in it: they load from their own ES module entries.
    expect(text).not.toMatch(/\/\/ src\/(drivers|sim|images|transports)\/|\/\/ src\/families\.ts|\/\/ src\/core\/station/);
    expect(text).toContain('import("./cli-esm/serve.js")');
    // It requires Node's built-ins only: a package published only as an ES module cannot be required by Node 20.
    expect([...text.matchAll(/\brequire\("([^"]+)"\)/g)].map((m) => m[1]).filter((p) => !p?.startsWith('node:'))).toEqual([]);
    expect(statSync(cli).size).toBeLessThan(100 * 1024); // 74 KB on 3 Dec
  });

  it('runs a client command without starting Node’s ES module loader', () => {
    // (port 1: nothing listens, so the command fails fast after loading everything it needs to connect)
    const r = esmLoaderModules(['devices', '--url', 'ws://127.0.0.1:1/flash-progress']);
    expect(r.stderr).toMatch(/no station answered there/);
    expect(r.status).toBe(2); // unreachable (contract §1)
    expect(r.modules).toEqual([]);
  });

  it('loads the ES module entries for the commands that need them', () => {
    const r = esmLoaderModules(['sim', '--help']);
    expect(r.status).toBe(0);
    expect(r.modules.length).toBeGreaterThan(0);
  });
});
