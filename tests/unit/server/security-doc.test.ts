// docs/security.md's table of probe classes (issue 15) keeps naming real test files for every class: a class that
// loses its tests, or a file renamed away, fails here instead of leaving the doc promising coverage that is gone.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');
const doc = readFileSync(join(root, 'docs/security.md'), 'utf8');
const CLASSES = ['Origin / Host / token', 'frame limits', 'floods', 'path kinds', 'SQL metacharacters', 'faults', 'kill -9'];

/** The table rows under "Tests that hold this": class → test files, a bare file name meaning the previous file's folder. */
function rows(): Map<string, string[]> {
  const section = doc.slice(doc.indexOf('## Tests that hold this'));
  const out = new Map<string, string[]>();
  for (const line of section.split('\n')) {
    const m = /^\| ([^|]+) \| (.+) \|$/.exec(line);
    if (!m || m[1]!.trim() === 'probe class' || m[1]!.startsWith('---')) continue;
    let folder = '';
    const files = [...m[2]!.matchAll(/`([^`\s]+\.test\.tsx?)`/g)].map(([, name]) => {
      const path = name!.includes('/') ? name! : join(folder, name!);
      folder = dirname(path);
      return path;
    });
    out.set(m[1]!.trim(), files);
  }
  return out;
}

describe('docs/security.md probe classes', () => {
  it('lists every class of the outside probes, each with test files that exist and hold tests', () => {
    const table = rows();
    expect([...table.keys()]).toEqual(CLASSES);
    for (const [name, files] of table) {
      expect(files.length, name).toBeGreaterThan(0);
      for (const file of files) {
        expect(existsSync(join(root, file)), `${name}: ${file}`).toBe(true);
        expect(readFileSync(join(root, file), 'utf8'), `${name}: ${file}`).toMatch(/\bit(\.\w+)?\(/);
      }
    }
  });
});
