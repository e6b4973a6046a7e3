// A data dir made in advance with loose modes is made private (0700, files 0600); a shared sticky dir is left alone.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { securePrivateDir } from '../../../src/core/private-files.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'fs-private-'));
  dirs.push(d);
  return d;
};

describe('securePrivateDir', () => {
  it('makes a 0755 data dir 0700 and its 0644 files 0600, leaving subfolders and private files as they are', async () => {
    const dir = join(tmp(), 'data');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'history.db'), 'x', { mode: 0o644 });
    writeFileSync(join(dir, 'token'), 'y', { mode: 0o600 });
    mkdirSync(join(dir, 'sim'), { mode: 0o755 });
    const report = await securePrivateDir(dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'history.db')).mode & 0o777).toBe(0o600);
    expect(report.tightened).toEqual(['history.db']);
    expect(report.warning).toBeUndefined();
  });

  it('leaves a sticky shared directory as it is and says why', async () => {
    const dir = join(tmp(), 'shared');
    mkdirSync(dir);
    chmodSync(dir, 0o1777);
    const report = await securePrivateDir(dir);
    expect(statSync(dir).mode & 0o7777).toBe(0o1777);
    expect(report.warning).toMatch(/shared or belongs to another user/);
  });

  it('leaves a station started on a 0755 data dir with a private dir and history', async () => {
    const { createStation } = await import('../../../src/core/station.js');
    const dir = join(tmp(), 'station');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    const station = await createStation({ dataDir: dir, providers: [] });
    try {
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      expect(statSync(join(dir, 'history.db')).mode & 0o077).toBe(0);
      expect(station.dataDirWarning).toBeUndefined();
    } finally {
      await station.close();
    }
  });
});
