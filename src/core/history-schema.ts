// History database schema and its migrations, tracked with SQLite's `user_version`.
import type Database from 'better-sqlite3';

/** Each entry moves the schema from version i to i + 1. Append only; never edit a released migration. */
const MIGRATIONS: string[] = [
  `CREATE TABLE jobs (
     job_id TEXT PRIMARY KEY,
     device_id TEXT NOT NULL,
     device_serial TEXT,
     device_name TEXT,
     protocol TEXT,
     transport TEXT,
     port TEXT,
     state TEXT NOT NULL,
     result TEXT,
     error_code TEXT,
     error TEXT,
     stage TEXT NOT NULL DEFAULT '',
     target TEXT,
     batch_id TEXT,
     image_path TEXT,
     image_size INTEGER,
     image_sha256 TEXT,
     plan_json TEXT,
     total_bytes INTEGER NOT NULL DEFAULT 0,
     bytes_transferred INTEGER NOT NULL DEFAULT 0,
     image_bytes INTEGER,
     avg_speed REAL,
     peak_speed REAL,
     active_ms INTEGER,
     attempts INTEGER NOT NULL DEFAULT 0,
     external INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL,
     started_at INTEGER,
     ended_at INTEGER
   );
   CREATE INDEX jobs_created ON jobs (created_at);
   CREATE INDEX jobs_device ON jobs (device_id, created_at);
   CREATE INDEX jobs_batch ON jobs (batch_id);
   CREATE TABLE job_stages (
     job_id TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
     idx INTEGER NOT NULL,
     stage TEXT NOT NULL,
     started_at INTEGER NOT NULL,
     ended_at INTEGER,
     bytes INTEGER NOT NULL DEFAULT 0,
     PRIMARY KEY (job_id, idx)
   );
   CREATE TABLE job_logs (
     id INTEGER PRIMARY KEY,
     job_id TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
     ts INTEGER NOT NULL,
     level TEXT NOT NULL,
     message TEXT NOT NULL
   );
   CREATE INDEX job_logs_job ON job_logs (job_id, id);`,
  // 2: every image a job wrote (plans write several): partition, where it came from, sizes and SHA-256.
  `ALTER TABLE jobs ADD COLUMN images_json TEXT;`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Bring the database up to SCHEMA_VERSION, each step in its own transaction. Refuses a newer database. */
export function migrate(db: Database.Database): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new Error(
      `history.db has schema version ${current}, newer than this station understands (${SCHEMA_VERSION}) — update Flash Station.`,
    );
  }
  for (let v = current; v < SCHEMA_VERSION; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v] as string);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return SCHEMA_VERSION;
}
