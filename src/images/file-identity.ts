// What identifies an image file's contents cheaply (device, inode, size, modification time), so that a file replaced
// or rewritten while it was flashed is caught instead of recorded with the hash of bytes the device never got.
import type { Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { FlashError } from '../contracts/errors.js';

export interface FileIdentity {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
}

export function fileIdentity(st: Stats): FileIdentity {
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
}

/** What differs between two identities, in words; undefined when they are the same. */
export function identityChange(before: FileIdentity, now: FileIdentity): string | undefined {
  if (before.dev !== now.dev || before.ino !== now.ino) return 'it was replaced by another file';
  if (before.size !== now.size) return `its size changed from ${before.size} to ${now.size} bytes`;
  if (before.mtimeMs !== now.mtimeMs) return 'it was written to';
  return undefined;
}

/** A check that rejects with `image_mismatch` when `path` is no longer the file it was when `before` was taken. */
export function unchangedCheck(path: string, before: FileIdentity): () => Promise<void> {
  return async () => {
    const now = await stat(path).catch(() => undefined);
    const change = now ? identityChange(before, fileIdentity(now)) : 'it was deleted';
    if (change) {
      throw new FlashError('image_mismatch', `${path} changed while it was being flashed (${change}): the device may hold a mix of old and new bytes. Flash it again from a file that does not change.`);
    }
  };
}
