// History on real SQLite in a temp dir: migrations, WAL, filters, interrupted jobs, CSV and analytics.
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EXPORT_PIECE_ROWS, History, INTERRUPTED_MESSAGE, rowToJob, setAsideIfDamaged, storedErrorCode } from '../../../src/core/history.js';
import { SCHEMA_VERSION } from '../../../src/core/history-schema.js';
import { analytics, csvChunks, CSV_COLUMNS, median, toCsv } from '../../../src/core/history-export.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'fs-history-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function add(h: History, id: string, fields: Partial<Parameters<History['insert']>[0]> = {}): void {
  h.insert({ job_id: id, device_id: 'DEV1', state: 'queued', created_at: 1_700_000_000_000, ...fields });
}

describe('History', () => {
  it('creates the schema in WAL mode and records the version', () => {
    const dir = tmp();
    const h = new History(dir);
    expect(h.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(h.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    h.close();
    // Reopening migrates nothing and keeps the data.
    const again = new History(dir);
    expect(again.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    again.close();
  });

  it('pagedValues: the rows rows() gives, as value arrays, read a page at a time only as they are asked for', () => {
    const h = new History(tmp());
    // Ties on created_at fall across page boundaries (3 rows per page).
    for (let i = 0; i < 10; i++) add(h, `j${i}`, { created_at: 1000 + Math.floor(i / 3), device_id: i % 2 ? 'A' : 'B', state: i % 4 ? 'completed' : 'failed' });
    const queries = [{ limit: 100 }, { limit: 7 }, { limit: 6 }, { deviceId: 'A', limit: 100 }, { state: 'failed' as const, limit: 100 }, { before: 1002, limit: 100 }];
    for (const q of queries) {
      expect([...h.pagedValues(q, 1000, ['job_id', 'state'], 3)], JSON.stringify(q)).toEqual(h.rows(q, 1000).map((r) => [r.job_id, r.state]));
    }
    expect([...h.pagedValues({ limit: 100 }, 4, ['job_id'], 3)]).toHaveLength(4);
    expect(() => [...h.pagedValues({ limit: 1 }, 1, ['job_id; DROP TABLE jobs' as 'job_id'])]).toThrow(/not a history column/);
    // Read on demand: a row added once the first page was taken still comes out, in its place (the oldest, last).
    const rows = h.pagedValues({ limit: 100 }, 1000, ['job_id'], 3);
    const head = [rows.next(), rows.next(), rows.next()].map((r) => (r.value as string[])[0]);
    expect(head).toEqual(['j9', 'j8', 'j7']);
    add(h, 'late', { created_at: 999 });
    expect([...rows].map((r) => r[0]).at(-1)).toBe('late');
    h.close();
  });

  it('refuses a database from a newer station', () => {
    const dir = tmp();
    const db = new Database(join(dir, 'history.db'));
    db.pragma(`user_version = ${SCHEMA_VERSION + 5}`);
    db.close();
    expect(() => new History(dir)).toThrow(/newer/);
  });

  it('marks jobs that were running at a crash as interrupted on the next open', () => {
    const dir = tmp();
    const h = new History(dir);
    add(h, 'a', { state: 'running', started_at: 1 });
    add(h, 'b', { state: 'completed', ended_at: 5 });
    add(h, 'c', { state: 'queued' });
    // No close(): the process "died".
    const h2 = new History(dir);
    expect(h2.interruptedAtOpen).toBe(2);
    const a = h2.row('a');
    expect(a?.state).toBe('failed');
    expect(a?.result).toBe('interrupted');
    expect(a?.error).toBe(INTERRUPTED_MESSAGE);
    expect(h2.row('b')?.state).toBe('completed');
    expect(h2.query({ state: 'interrupted' }).map((j) => j.jobId).sort()).toEqual(['a', 'c']);
    expect(h2.integrityOk()).toBe(true);
    h.close();
    h2.close();
  });

  it('filters by device, time, state and limit, newest first', () => {
    const h = new History(tmp());
    for (let i = 0; i < 10; i++) {
      add(h, `j${i}`, { device_id: i % 2 ? 'ODD' : 'EVEN', created_at: 1000 + i, state: i < 5 ? 'completed' : 'failed' });
    }
    expect(h.query({}).map((j) => j.jobId)[0]).toBe('j9');
    expect(h.query({ limit: 3 }).length).toBe(3);
    expect(h.query({ deviceId: 'ODD' }).every((j) => j.deviceId === 'ODD')).toBe(true);
    expect(h.query({ before: 1005 }).map((j) => j.jobId)).toEqual(['j4', 'j3', 'j2', 'j1', 'j0']);
    expect(h.query({ state: 'failed', deviceId: 'EVEN' }).map((j) => j.jobId)).toEqual(['j8', 'j6']);
    h.close();
  });

  it('keeps stages and logs per job', () => {
    const h = new History(tmp());
    add(h, 'x');
    h.stageStarted('x', 0, 'Writing boot partition (1/2)', 10);
    h.stageEnded('x', 0, 20, 4096);
    h.log('x', 15, 'info', 'OKAY');
    expect(h.stages('x')).toEqual([{ idx: 0, stage: 'Writing boot partition (1/2)', started_at: 10, ended_at: 20, bytes: 4096 }]);
    expect(h.logs('x')).toEqual([{ ts: 15, level: 'info', message: 'OKAY' }]);
    h.close();
  });

  it('exports CSV with quoting and formula-safe cells', () => {
    const h = new History(tmp());
    add(h, 'q', { state: 'failed', error: 'bad "thing", really', target: '=HYPERLINK("x")', started_at: 1000, ended_at: 3500 });
    const csv = toCsv(h.rows({}));
    const [header, line] = csv.split('\r\n');
    expect(header?.split(',')[0]).toBe('job_id');
    expect(line).toContain('"bad ""thing"", really"');
    expect(line).toContain(`"'=HYPERLINK(""x"")"`);
    expect(line?.endsWith(',2500')).toBe(true);
    h.close();
  });

  it('the streamed export (pagedValues → csvChunks) is the same text as toCsv over the rows', () => {
    const h = new History(tmp());
    for (let i = 0; i < 7; i++) {
      add(h, `r${i}`, { created_at: 1_700_000_000_000 + i, started_at: i % 2 ? 1_700_000_000_100 : null, ended_at: 1_700_000_001_000,
        error: i === 3 ? 'a, "quoted"\nline' : null, image_path: i === 4 ? '+cmd' : '/x.img', avg_speed: 1234.56 });
    }
    const streamed = [...csvChunks(h.pagedValues({ limit: 100 }, 100, CSV_COLUMNS, 3), 2)].join('');
    expect(streamed).toBe(toCsv(h.rows({}, 100)));
    const lines = streamed.split('\r\n');
    expect(lines[1]?.split(',')[CSV_COLUMNS.indexOf('created_at')]).toBe('2023-11-14T22:13:20.006Z');
    expect(streamed).toContain(`"'+cmd"`.replace(/"/g, '')); // a leading + is prefixed, unquoted (no comma or quote)
    expect(streamed).toContain('"a, ""quoted""\nline"');
    h.close();
  });

  it('a streamed export comes in small pieces by default: one piece is one turn of the station\'s event loop', () => {
    const rows = Array.from({ length: 200 }, (_, i) => CSV_COLUMNS.map((c) => (c === 'job_id' ? `j${i}` : null)));
    const pieces = [...csvChunks(rows)].slice(1);
    expect(pieces).toHaveLength(Math.ceil(200 / EXPORT_PIECE_ROWS));
    expect(Math.max(...pieces.map((p) => p.split('\r\n').length - 1))).toBe(EXPORT_PIECE_ROWS);
    expect(EXPORT_PIECE_ROWS).toBeLessThanOrEqual(64);
  });

  it('computes analytics per device, image and day', () => {
    const h = new History(tmp());
    const day = Date.UTC(2026, 0, 2);
    add(h, '1', { device_id: 'A', image_path: '/i.img', state: 'completed', created_at: day, started_at: day, ended_at: day + 1000, bytes_transferred: 1000, active_ms: 1000 });
    add(h, '2', { device_id: 'A', image_path: '/i.img', state: 'failed', created_at: day + 1, started_at: day, ended_at: day + 3000, bytes_transferred: 500, active_ms: 3000 });
    add(h, '3', { device_id: 'B', image_path: '/j.img', state: 'completed', created_at: day + 86_400_000, started_at: day, ended_at: day + 2000, bytes_transferred: 4000, active_ms: 2000 });
    const byDevice = analytics(h.rowsBetween(undefined, undefined), { groupBy: 'device' });
    expect(byDevice).toEqual([
      { key: 'A', count: 2, succeeded: 1, failed: 1, cancelled: 0, successRate: 0.5, medianDurationMs: 2000, throughput: 375, bytes: 1500 },
      { key: 'B', count: 1, succeeded: 1, failed: 0, cancelled: 0, successRate: 1, medianDurationMs: 2000, throughput: 2000, bytes: 4000 },
    ]);
    expect(analytics(h.rowsBetween(undefined, undefined), { groupBy: 'day' }).map((r) => r.key)).toEqual(['2026-01-02', '2026-01-03']);
    expect(analytics(h.rowsBetween(undefined, undefined), { groupBy: 'image' }).map((r) => [r.key, r.count])).toEqual([['/i.img', 2], ['/j.img', 1]]);
    expect(median([5, 1, 3])).toBe(3);
    expect(median([])).toBe(0);
    h.close();
  });
});

describe('History migrations', () => {
  it('upgrades a version-1 database in place, keeping its rows', () => {
    const dir = tmp();
    const db = new Database(join(dir, 'history.db'));
    // Version 1 as it shipped: run only the first migration by hand.
    db.exec(`CREATE TABLE jobs (job_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, device_serial TEXT, device_name TEXT,
      protocol TEXT, transport TEXT, port TEXT, state TEXT NOT NULL, result TEXT, error_code TEXT, error TEXT,
      stage TEXT NOT NULL DEFAULT '', target TEXT, batch_id TEXT, image_path TEXT, image_size INTEGER, image_sha256 TEXT,
      plan_json TEXT, total_bytes INTEGER NOT NULL DEFAULT 0, bytes_transferred INTEGER NOT NULL DEFAULT 0,
      image_bytes INTEGER, avg_speed REAL, peak_speed REAL, active_ms INTEGER, attempts INTEGER NOT NULL DEFAULT 0,
      external INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, started_at INTEGER, ended_at INTEGER);
      CREATE TABLE job_stages (job_id TEXT NOT NULL, idx INTEGER NOT NULL, stage TEXT NOT NULL, started_at INTEGER NOT NULL,
      ended_at INTEGER, bytes INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (job_id, idx));
      CREATE TABLE job_logs (id INTEGER PRIMARY KEY, job_id TEXT NOT NULL, ts INTEGER NOT NULL, level TEXT NOT NULL, message TEXT NOT NULL);
      INSERT INTO jobs (job_id, device_id, state, created_at) VALUES ('old', 'D', 'completed', 1);
      PRAGMA user_version = 1;`);
    db.close();
    const h = new History(dir);
    expect(h.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(h.row('old')?.state).toBe('completed');
    h.update('old', { images_json: '[]' });
    expect(h.row('old')?.images_json).toBe('[]');
    h.close();
  });
});

describe('History: a damaged file at open', () => {
  it('a file that is not a database is moved aside with its WAL, named in the message; the new one is empty', () => {
    const dir = tmp();
    const file = join(dir, 'history.db');
    writeFileSync(file, Buffer.alloc(8192, 0x5a));
    writeFileSync(`${file}-wal`, 'junk');
    const h = new History(dir);
    const moved = readdirSync(dir).filter((f) => f.startsWith('history.db.damaged-'));
    expect(moved).toEqual(expect.arrayContaining([expect.stringMatching(/^history\.db\.damaged-[\dT-]+Z$/), expect.stringMatching(/Z-wal$/)]));
    // The WAL went with it, untouched: it may hold the last jobs.
    expect(readFileSync(join(dir, moved.find((f) => f.endsWith('-wal'))!), 'utf8')).toBe('junk');
    expect(h.recovered).toContain(`${file} is damaged (`);
    expect(h.recovered).toMatch(/not a database/);
    expect(h.recovered).toContain(`moved aside to ${join(dir, moved.find((f) => !f.endsWith('-wal'))!)}`);
    expect(h.query({})).toEqual([]);
    h.close();
  });

  it("a sound file, a missing file and a newer station's file are left alone", () => {
    const dir = tmp();
    expect(setAsideIfDamaged(join(dir, 'history.db'))).toBeUndefined();
    const h = new History(dir);
    add(h, 'kept');
    h.close();
    const again = new History(dir);
    expect(again.recovered).toBeUndefined();
    expect(again.row('kept')).toBeDefined();
    again.close();
    const db = new Database(join(dir, 'history.db'));
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => new History(dir)).toThrow(/newer/);
    expect(existsSync(join(dir, 'history.db'))).toBe(true);
  });
});

describe('History: stored error codes', () => {
  it('reads codes of the list as they are, old family codes as the generic code they became, others as none', () => {
    expect(storedErrorCode('timeout')).toBe('timeout');
    expect(storedErrorCode('interrupted')).toBe('interrupted');
    expect(storedErrorCode('usb_stall')).toBe('device_error');
    expect(storedErrorCode('command_failed')).toBe('device_rejected');
    expect(storedErrorCode('partition_locked')).toBe('device_protected');
    expect(storedErrorCode('toString')).toBeUndefined();
    expect(storedErrorCode('agent_specific')).toBeUndefined();
    expect(storedErrorCode(null)).toBeUndefined();
    const h = new History(tmp());
    add(h, 'old', { state: 'failed', error_code: 'usb_disconnected', error: 'USB connection lost mid-transfer' });
    expect(rowToJob(h.row('old')!)).toMatchObject({ errorCode: 'disconnected', error: 'USB connection lost mid-transfer' });
    h.close();
  });
});
