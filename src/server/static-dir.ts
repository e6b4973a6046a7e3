// Where the built renderer (dist/renderer) lives, for the station's page and the fleet view's: beside the bundle, or
// from the source tree.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export function defaultStaticDir(): string | undefined {
  const here = fileURLToPath(new URL('.', import.meta.url));
  for (const candidate of [resolve(here, 'renderer'), resolve(here, '../../dist/renderer'), resolve(here, '../renderer')]) {
    if (existsSync(join(candidate, 'index.html'))) return candidate;
  }
  return undefined;
}
