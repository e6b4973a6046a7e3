// File identity: a replaced, resized, rewritten or deleted image file is told apart from an untouched one.
import { mkdtempSync, renameSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fileIdentity, unchangedCheck } from '../../../src/images/file-identity.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function file(): string {
  const d = mkdtempSync(join(tmpdir(), 'fs-ident-'));
  dirs.push(d);
  const p = join(d, 'img.raw');
  writeFileSync(p, 'abcd');
  utimesSync(p, 1000, 1000);
  return p;
}

describe('unchangedCheck', () => {
  it('passes for an untouched file', async () => {
    const p = file();
    await expect(unchangedCheck(p, fileIdentity(statSync(p)))()).resolves.toBeUndefined();
  });
  it('names each kind of change', async () => {
    const cases: Array<[(p: string) => void, RegExp]> = [
      [(p) => { writeFileSync(p, 'abcd'); }, /written to/],
      [(p) => { writeFileSync(p, 'abcdef'); utimesSync(p, 1000, 1000); }, /size changed from 4 to 6/],
      [(p) => { writeFileSync(`${p}.new`, 'abcd'); utimesSync(`${p}.new`, 1000, 1000); renameSync(`${p}.new`, p); }, /replaced by another file/],
      [(p) => unlinkSync(p), /deleted/],
    ];
    for (const [change, why] of cases) {
      const p = file();
      const check = unchangedCheck(p, fileIdentity(statSync(p)));
      change(p);
      await expect(check()).rejects.toMatchObject({ code: 'image_mismatch', message: expect.stringMatching(why) });
    }
  });
});
