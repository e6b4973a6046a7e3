// This process's open files under a folder (Linux /proc): a test's proof that nothing was left open.
import { readdirSync, readlinkSync } from 'node:fs';

export function openFilesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(dir)) out.push(target);
    } catch {
      // (closed meanwhile)
    }
  }
  return out.sort();
}
