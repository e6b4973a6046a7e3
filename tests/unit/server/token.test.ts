// Token file: created once with mode 0600 and ≥128 random bits, reused after, overridden by $FLASH_STATION_TOKEN.
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadOrCreateToken, newToken, readTokenFile } from '../../../src/server/token.js';
import { tokenMatches } from '../../../src/server/guards.js';

const dirs: string[] = [];
afterEach(async () => { for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true }); });
const temp = async (): Promise<string> => { const d = await mkdtemp(join(tmpdir(), 'fs-token-')); dirs.push(d); return d; };

describe('loadOrCreateToken', () => {
  it('creates DATA_DIR/token with mode 0600 on first start and reuses it', async () => {
    const dir = join(await temp(), 'nested', 'data');
    const a = await loadOrCreateToken(dir, {});
    expect(a.length).toBeGreaterThanOrEqual(22); // 256 bits in base64url is 43 chars
    expect(Buffer.from(a, 'base64url').length).toBeGreaterThanOrEqual(16);
    const info = await stat(join(dir, 'token'));
    expect(info.mode & 0o777).toBe(0o600);
    expect((await readFile(join(dir, 'token'), 'utf8')).trim()).toBe(a);
    expect(await loadOrCreateToken(dir, {})).toBe(a);
    expect(await readTokenFile(dir)).toBe(a);
  });
  it('gives different tokens to different stations', async () => {
    expect(await loadOrCreateToken(await temp(), {})).not.toBe(await loadOrCreateToken(await temp(), {}));
  });
  it('lets $FLASH_STATION_TOKEN win and writes no file', async () => {
    const dir = await temp();
    expect(await loadOrCreateToken(dir, { FLASH_STATION_TOKEN: 'from-env' })).toBe('from-env');
    expect(await readTokenFile(dir)).toBeUndefined();
  });
  it('compares tokens exactly', () => {
    expect(tokenMatches('abc', 'abc')).toBe(true);
    expect(tokenMatches('abc', 'abd')).toBe(false);
    expect(tokenMatches('abc', 'abcd')).toBe(false);
    expect(tokenMatches('abc', undefined)).toBe(false);
    expect(tokenMatches('abc', '')).toBe(false);
  });
});

describe('newToken', () => {
  it('is 43 base64url characters and never starts with "-" (which a command line would take for an option)', () => {
    const tokens = Array.from({ length: 2000 }, newToken);
    for (const t of tokens) expect(t).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{42}$/);
    expect(new Set(tokens).size).toBe(tokens.length);
  });
});

