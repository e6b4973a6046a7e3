// kill -9 of a station mid-flash: after a restart, history shows the job as interrupted and the database is intact.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterEach, describe, expect, it } from 'vitest';
import { createStation, type Station } from '../../../src/core/station.js';
import Database from 'better-sqlite3';

let dir: string | undefined;
const cleanupFiles: string[] = [];
let station: Station | undefined;
let child: ChildProcess | undefined;
afterEach(async () => {
  // A test that failed before its kill -9 leaves the flashing child running: end it.
  if (child && child.exitCode === null && child.signalCode === null) {
    const c = child;
    await new Promise((r) => {
      c.once('exit', r);
      c.kill('SIGKILL');
    });
  }
  child = undefined;
  await station?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  for (const f of cleanupFiles.splice(0)) rmSync(f, { force: true });
  station = undefined;
  dir = undefined;
});

describe('a station killed mid-flash', () => {
  it('shows the running job as interrupted after restart, with the database intact', async () => {
    dir = mkdtempSync(join(tmpdir(), 'fs-crash-'));
    // Inside node_modules/.cache so the bundle resolves the project's packages (better-sqlite3, conf).
    const cache = join(process.cwd(), 'node_modules', '.cache', 'flash-station-tests');
    mkdirSync(cache, { recursive: true });
    const bundle = join(cache, `crash-child-${process.pid}.mjs`);
    cleanupFiles.push(bundle);
    await build({
      entryPoints: [join(import.meta.dirname, 'crash-child.ts')], outfile: bundle, bundle: true, platform: 'node',
      target: 'node20', format: 'esm', packages: 'external', logLevel: 'silent', absWorkingDir: process.cwd(),
    });
    const proc = spawn(process.execPath, [bundle, dir], { stdio: ['ignore', 'pipe', 'pipe'], cwd: process.cwd() });
    child = proc;
    let errText = '';
    proc.stderr.on('data', (d: Buffer) => (errText += d.toString()));
    const jobId = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`child never started flashing: ${errText}`)), 30_000);
      proc.stdout.on('data', (d: Buffer) => {
        const m = /running (\S+)/.exec(d.toString());
        if (m) {
          clearTimeout(timer);
          resolve(m[1] as string);
        }
      });
      proc.on('exit', (code) => reject(new Error(`child exited ${code}: ${errText}`)));
    });
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await exited;

    // The database opens and checks out before the station touches it; the job is still marked running in it.
    const raw = new Database(join(dir, 'data', 'history.db'));
    expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(raw.prepare('SELECT state FROM jobs WHERE job_id = ?').get(jobId)).toEqual({ state: 'running' });
    raw.close();

    station = await createStation({ dataDir: join(dir, 'data'), providers: [] });
    expect(station.interruptedAtStart).toBe(1);
    const [job] = station.history({ state: 'interrupted' });
    expect(job?.jobId).toBe(jobId);
    expect(job?.state).toBe('failed');
    expect(job?.errorCode).toBe('interrupted');
    expect(job?.error).toMatch(/Interrupted/);
    expect(job?.bytesTransferred).toBeGreaterThan(0);
    expect(job?.endedAt).toBeGreaterThan(0);
    // The interrupted job counts against its port.
    expect(station.stats().ports).toEqual([{ port: 'port-CRASH1', succeeded: 0, failed: 1 }]);
    const detail = station.jobDetail(jobId);
    expect(detail?.stages[0]?.stage).toBe('Writing boot partition (1/1)');
  }, 60_000);
});
