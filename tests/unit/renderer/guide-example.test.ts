// The integration guide's hook example compiles, unchanged, against our hook (its `@/hooks/…` import resolved to
// src/renderer as the guide's project layout has it). Type-level: runs the TypeScript compiler on the snippet.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');
const snippet = readFileSync(join(import.meta.dirname, 'guide-example.snippet.txt'), 'utf8');

function tsc(source: string): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'guide-example-'));
  try {
    writeFileSync(join(dir, 'example.ts'), source);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2023',
          lib: ['ES2023', 'DOM', 'DOM.Iterable'],
          module: 'ESNext',
          moduleResolution: 'Bundler',
          jsx: 'react-jsx',
          strict: true,
          noUncheckedIndexedAccess: true,
          skipLibCheck: true,
          noEmit: true,
          types: [],
          typeRoots: [join(root, 'node_modules/@types')],
          baseUrl: join(root, 'src/renderer'),
          paths: { '@/*': ['./*'], react: [join(root, 'node_modules/@types/react')] },
        },
        files: [join(dir, 'example.ts')],
      }),
    );
    const r = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')], { encoding: 'utf8' });
    return { status: r.status, output: `${r.stdout}${r.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the guide example', () => {
  it('is the guide’s own text (when the guide is beside the repository)', () => {
    const guide = [resolve(root, '../shared/seeds/websocket-live-progress-guide.md'), '/work/shared/seeds/websocket-live-progress-guide.md'].find(existsSync);
    if (!guide) return;
    expect(readFileSync(guide, 'utf8')).toContain(snippet.trim());
  });

  it('compiles unchanged against use-flash-progress-websocket.ts', () => {
    const r = tsc(snippet);
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  }, 60_000);

  it('and the check can fail: a misspelt option is rejected', () => {
    const r = tsc(snippet.replace('reconnectDelay', 'reconnectDelai'));
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/reconnectDelai/);
  }, 60_000);
});
