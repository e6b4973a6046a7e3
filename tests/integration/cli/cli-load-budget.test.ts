// What `flash-station flash` loads before it can talk to the station (issue 14: the CLI's start). A budget of code, not
// of time: the command's chunk and everything it imports statically, from the bundle `npm run build` made.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const chunks = join(process.cwd(), 'dist', 'cli-chunks');

function loadedBy(entry: string): string[] {
  const seen = new Set<string>();
  const walk = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(join(chunks, file), 'utf8');
    for (const m of text.matchAll(/(?:from|import)\s*"\.\/([^"]+)"/g)) if (m[1]) walk(m[1]);
  };
  walk(entry);
  return [...seen];
}

describe('the flash command’s code budget', () => {
  it('loads its own WebSocket client, not ws, and under 100 KB of modules', () => {
    expect(existsSync(chunks), 'dist/cli-chunks: run `npm run build` (npm ci does)').toBe(true);
    const entry = readdirSync(chunks).find((f) => /^flash-[A-Z0-9]+\.js$/.test(f));
    expect(entry).toBeDefined();
    const files = loadedBy(entry!);
    const text = files.map((f) => readFileSync(join(chunks, f), 'utf8')).join('\n');
    expect(text).toContain('// src/cli/websocket.ts');
    expect(text).not.toMatch(/\/\/ node_modules\/ws\//);
    const bytes = files.reduce((n, f) => n + statSync(join(chunks, f)).size, 0);
    expect(bytes).toBeLessThan(100 * 1024); // 67 KB on 2 Dec; 184 KB with ws
  });
});
