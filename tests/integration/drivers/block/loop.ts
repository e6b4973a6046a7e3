// Loop devices for block tests: a sparse backing file in a temp dir, attached with losetup, torn down after.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync, constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Loop {
  dev: string;
  file: string;
  dir: string;
  detach(): void;
}

/** A loop device of `size` bytes (filled with `fill` when given). Fails with the reason when none can be had. */
export function makeLoop(size: number, options: { fill?: number; partscan?: boolean } = {}): Loop {
  const dir = mkdtempSync(join(tmpdir(), 'block-loop-'));
  const file = join(dir, 'disk.img');
  execFileSync('truncate', ['-s', String(size), file]);
  if (options.fill !== undefined) {
    const fd = openSync(file, 'r+');
    const b = Buffer.alloc(1 << 20, options.fill);
    for (let at = 0; at < size; at += b.length) writeSync(fd, b, 0, Math.min(b.length, size - at), at);
    closeSync(fd);
  }
  let dev: string;
  try {
    dev = execFileSync('losetup', ['-f', '--show', ...(options.partscan ? ['-P'] : []), file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    const why = (e as { stderr?: Buffer }).stderr?.toString().trim() ?? (e as Error).message;
    throw new Error(`no loop device for this test (losetup -f --show failed: ${why}); block tests need root and the loop module (modprobe loop)`);
  }
  let attached = true;
  return {
    dev, file, dir,
    detach() {
      if (attached) {
        attached = false;
        try {
          execFileSync('losetup', ['-d', dev], { stdio: 'ignore' });
        } catch {
          // already gone
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Write `bytes` at `offset` straight onto the device behind any other opener's back (O_DIRECT, no cache). */
export function scribble(dev: string, offset: number, bytes: number, value: number): void {
  const fd = openSync(dev, constants.O_RDWR | constants.O_SYNC);
  try {
    writeSync(fd, Buffer.alloc(bytes, value), 0, bytes, offset);
  } finally {
    closeSync(fd);
  }
  execFileSync('blockdev', ['--flushbufs', dev]);
}
