// The data dir holds the token and every job's history: keep it 0700 and its files 0600, even when it was made in
// advance with looser modes, without ever tightening a shared directory such as /tmp.
import { chmod, lstat, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** What securing a data dir did, for the station's log. */
export interface PrivateDirReport {
  /** Files whose mode was tightened to 0600. */
  tightened: string[];
  /** Set when the directory itself was left as it is, and why. */
  warning?: string;
}

const STICKY = 0o1000;

/**
 * Make `dir` 0700 and its regular files 0600 when this process owns it. A sticky or foreign-owned directory (a shared
 * /tmp, another user's folder) is left alone with a warning: tightening it would break other programs.
 */
export async function securePrivateDir(dir: string): Promise<PrivateDirReport> {
  const st = await lstat(dir);
  const uid = process.getuid?.();
  const report: PrivateDirReport = { tightened: [] };
  if (process.platform === 'win32' || uid === undefined) return report;
  if ((st.mode & STICKY) !== 0 || st.uid !== uid) {
    report.warning = `The data dir ${dir} is shared or belongs to another user; its token and history may be readable by others. Use a private --data-dir.`;
    return report;
  }
  if ((st.mode & 0o077) !== 0) await chmod(dir, 0o700);
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    const f = await lstat(path).catch(() => undefined);
    if (!f?.isFile() || (f.mode & 0o077) === 0 || f.uid !== uid) continue;
    await chmod(path, f.mode & 0o700);
    report.tightened.push(name);
  }
  return report;
}

/**
 * A private scratch folder inside the data dir (0700; what goes in it is made 0600), emptied of what a previous run
 * left: DATA_DIR/spool, where images are decoded before writing. Nothing there outlives the station that made it.
 */
export async function freshPrivateDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (process.platform !== 'win32') await chmod(dir, 0o700);
}
