// A history store that is damaged or fails on write never keeps a job's final event from a client (issue 15, defect 1).
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, statSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { History } from '../../../src/core/history.js';
import type { FlashFailedMessage, FlashLogMessage, ResultMessage } from '../../../src/protocol/messages.js';
import { launchStation, type LaunchedStation } from '../../../src/server/launch.js';
import { connect, makeImage, type Conn } from './helpers/harness.js';

const SIM = 'fastboot:HF0001?speed=64M&partitions=boot:16M,system:64M';
const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function station(dataDir: string, sims = [SIM]): Promise<{ s: LaunchedStation; c: Conn }> {
  const s = await launchStation({ host: '127.0.0.1', port: 0, dataDir, usb: false, serial: false, sims });
  const c = await connect(`${s.url}?token=${encodeURIComponent(s.token)}`);
  cleanup.push(async () => {
    c.close();
    await s.close();
  });
  return { s, c };
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fs-hfault-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function flash(c: Conn, image: string, deviceId = 'HF0001'): Promise<string> {
  const r = (await c.request({ type: 'start_flash', deviceId, partition: 'boot', image })) as ResultMessage & { jobId: string };
  expect(r).toMatchObject({ ok: true });
  return r.jobId;
}

const ended = (c: Conn, jobId: string): Promise<{ type: string }> =>
  c.next((m) => (m.type === 'flash_completed' || m.type === 'flash_failed') && m.jobId === jobId, 30_000);

describe('history faults', () => {
  it('a page of random bytes in history.db: the file is set aside at start, named, and jobs still end', async () => {
    const dir = await tempDir();
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir);
    // A history with enough rows to span dozens of pages, then one page overwritten as in the issue
    // (`dd if=/dev/urandom of=history.db bs=4096 seek=8 count=1 conv=notrunc`).
    const h = new History(dataDir);
    for (let i = 0; i < 300; i++) {
      h.insert({ job_id: `old${i}`, device_id: 'OLD', state: 'completed', created_at: 1_700_000_000_000 + i, stage: 'Completed '.repeat(10) });
      h.log(`old${i}`, 1, 'info', `line ${i}`);
    }
    h.close();
    const file = join(dataDir, 'history.db');
    expect(statSync(file).size).toBeGreaterThan(20 * 4096);
    const fd = openSync(file, 'r+');
    writeSync(fd, randomBytes(4096), 0, 4096, 8 * 4096);
    closeSync(fd);

    const { s, c } = await station(dataDir);
    const aside = readdirSync(dataDir).filter((f) => f.startsWith('history.db.damaged-') && !f.endsWith('-wal') && !f.endsWith('-shm'));
    expect(aside).toHaveLength(1);
    expect(s.station.historyRecovered).toContain(file);
    expect(s.station.historyRecovered).toContain(join(dataDir, aside[0]!));

    const image = await makeImage(dir, 'boot.img', 1 << 20);
    const jobId = await flash(c, image);
    expect((await ended(c, jobId)).type).toBe('flash_completed');
    // The fresh history holds the new job and none of the old ones.
    const hist = (await c.request({ type: 'get_history', limit: 1000 })) as ResultMessage & { jobs: Array<{ jobId: string; state: string }> };
    expect(hist.jobs.map((j) => [j.jobId, j.state])).toEqual([[jobId, 'completed']]);
  });

  it('a sound history.db is left where it is', async () => {
    const dir = await tempDir();
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir);
    new History(dataDir).close();
    const { s } = await station(dataDir);
    expect(s.station.historyRecovered).toBeUndefined();
    expect(readdirSync(dataDir).some((f) => f.includes('damaged'))).toBe(false);
  });

  it('a store that throws on every write: completed, failed and cancelled jobs all reach the client', async () => {
    const dir = await tempDir();
    const dataDir = join(dir, 'data');
    const { c } = await station(dataDir, [SIM, 'fastboot:HF0002?speed=64M&partitions=boot:16M&fail-command=flash', 'fastboot:HF0003?speed=1M&partitions=boot:16M']);
    // Another connection makes every write of the station's own connection fail, as a full disk would.
    const db = new Database(join(dataDir, 'history.db'));
    cleanup.push(async () => {
      db.close();
    });
    db.exec(`
      CREATE TRIGGER full_ins BEFORE INSERT ON jobs BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;
      CREATE TRIGGER full_upd BEFORE UPDATE ON jobs BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;
      CREATE TRIGGER full_log BEFORE INSERT ON job_logs BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;
      CREATE TRIGGER full_stage BEFORE INSERT ON job_stages BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;`);
    const image = await makeImage(dir, 'boot.img', 1 << 20);

    const ok = await flash(c, image, 'HF0001');
    expect((await ended(c, ok)).type).toBe('flash_completed');
    const warning = await c.next<FlashLogMessage>((m) => m.type === 'flash_log' && m.jobId === ok && m.level === 'warn');
    expect(warning.message).toMatch(/History could not record .*database or disk is full/);

    const bad = await flash(c, image, 'HF0002');
    const failed = (await ended(c, bad)) as FlashFailedMessage;
    expect(failed).toMatchObject({ type: 'flash_failed', reason: 'error' });

    const slow = await flash(c, image, 'HF0003');
    await c.next((m) => m.type === 'flash_started' && m.jobId === slow);
    expect(await c.request({ type: 'cancel_flash', jobId: slow })).toMatchObject({ ok: true });
    expect(await ended(c, slow)).toMatchObject({ type: 'flash_failed', error: 'Cancelled', reason: 'cancelled', code: 'cancelled' });

    // Nothing was written, and the station says so in the job, not by hanging.
    expect(db.prepare('SELECT COUNT(*) AS n FROM jobs').get()).toEqual({ n: 0 });
    const snap = (await c.request({ type: 'get_snapshot' })) as { jobs: Array<{ jobId: string; state: string }> };
    expect(Object.fromEntries(snap.jobs.map((j) => [j.jobId, j.state]))).toMatchObject({ [ok]: 'completed', [bad]: 'failed', [slow]: 'cancelled' });
    expect(existsSync(join(dataDir, 'history.db'))).toBe(true);
  });
});
