// followToken: MQTT commands follow the station token as it is now — a token regenerated into DATA_DIR/token
// replaces the old one at once; $FLASH_STATION_TOKEN pins it; a vanished file keeps the last one known.
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { followToken } from '../../../src/fleet/token-follower.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dataDir(token: string): string {
  const d = mkdtempSync(join(tmpdir(), 'fs-token-follow-'));
  dirs.push(d);
  writeFileSync(join(d, 'token'), `${token}\n`);
  return d;
}

/** Rewrites the token file with a later mtime (as a regeneration a moment later would). */
function regenerate(dir: string, token: string, at: number): void {
  writeFileSync(join(dir, 'token'), `${token}\n`);
  utimesSync(join(dir, 'token'), at, at);
}

describe('followToken', () => {
  it('takes a regenerated token at once and refuses the old one', () => {
    const dir = dataDir('first');
    const check = followToken(dir, 'first', {});
    expect(check('first')).toBe(true);
    expect(check('second')).toBe(false);
    regenerate(dir, 'second', Date.now() / 1000 + 10);
    expect(check('first')).toBe(false);
    expect(check('second')).toBe(true);
  });

  it('keeps $FLASH_STATION_TOKEN whatever the file says', () => {
    const dir = dataDir('from-file');
    const check = followToken(dir, 'from-env', { FLASH_STATION_TOKEN: 'from-env' });
    expect(check('from-env')).toBe(true);
    expect(check('from-file')).toBe(false);
  });

  it('keeps the last token known when the file is gone', () => {
    const dir = dataDir('kept');
    const check = followToken(dir, 'kept', {});
    expect(check('kept')).toBe(true);
    rmSync(join(dir, 'token'));
    expect(check('kept')).toBe(true);
    expect(check('')).toBe(false);
  });
});
