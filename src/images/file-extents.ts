// Where a file on disk holds data and where it has holes (lseek SEEK_DATA/SEEK_HOLE, as bmaptool does), via koffi.
import { open, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** A byte range [start, end) of a file. */
export interface Extent {
  start: number;
  end: number;
}

interface Seek {
  lseek: (fd: number, offset: number, whence: number) => number | bigint;
  errno: () => number;
  ENXIO: number;
  SEEK_DATA: number;
  SEEK_HOLE: number;
}

/** libc and the whence values per platform (Linux: SEEK_DATA 3, SEEK_HOLE 4; macOS/BSD: SEEK_HOLE 3, SEEK_DATA 4). */
const PLATFORMS: Partial<Record<NodeJS.Platform, { libc: string; SEEK_DATA: number; SEEK_HOLE: number }>> = {
  linux: { libc: 'libc.so.6', SEEK_DATA: 3, SEEK_HOLE: 4 },
  darwin: { libc: 'libSystem.B.dylib', SEEK_DATA: 4, SEEK_HOLE: 3 },
};

/** A map with more extents than this is not worth keeping (a badly fragmented file): read the file instead. */
const MAX_EXTENTS = 1 << 18;

let seek: Seek | null | undefined;

function loadSeek(): Seek | null {
  if (seek !== undefined) return seek;
  seek = null;
  const p = PLATFORMS[process.platform];
  if (!p || process.env.FLASH_STATION_SEEK_DATA === 'off') return null;
  try {
    const koffi = require('koffi') as {
      load(path: string): { func(signature: string): (...args: number[]) => number | bigint };
      errno(): number;
      os: { errno: Record<string, number> };
    };
    const lseek = koffi.load(p.libc).func('int64_t lseek(int fd, int64_t offset, int whence)');
    const ENXIO = koffi.os.errno.ENXIO ?? 6;
    seek = { lseek: (fd, offset, whence) => lseek(fd, offset, whence), errno: () => koffi.errno(), ENXIO,
      SEEK_DATA: p.SEEK_DATA, SEEK_HOLE: p.SEEK_HOLE };
  } catch {
    seek = null; // musl (no libc.so.6), Windows, koffi missing: read the file
  }
  return seek;
}

/**
 * The data extents of the first `size` bytes of the file at `path` (sorted, disjoint; everything else reads as zeros),
 * or undefined when it has no holes worth knowing or they cannot be asked for (Windows, a file system without
 * SEEK_DATA, a failed call): then read the whole file. A file whose allocated blocks cover its size is not asked
 * (no koffi load, no system calls).
 */
export async function fileDataExtents(path: string, size: number): Promise<Extent[] | undefined> {
  if (size <= 0) return undefined;
  const st = await stat(path).catch(() => null);
  if (!st?.isFile() || st.blocks * 512 >= size) return undefined;
  const s = loadSeek();
  if (!s) return undefined;
  const fh = await open(path, 'r').catch(() => null);
  if (!fh) return undefined;
  try {
    return dataExtents(s, fh.fd, size);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

function dataExtents(s: Seek, fd: number, size: number): Extent[] | undefined {
  const out: Extent[] = [];
  let pos = 0;
  while (pos < size) {
    const d = Number(s.lseek(fd, pos, s.SEEK_DATA));
    if (d < 0) {
      if (s.errno() === s.ENXIO) break; // no data from `pos` to the end of the file
      return undefined;
    }
    if (d >= size) break;
    if (d < pos) return undefined;
    const h = Number(s.lseek(fd, d, s.SEEK_HOLE));
    if (h <= d) return undefined; // a data offset must be followed by a hole (end of file at least)
    const end = Math.min(h, size);
    out.push({ start: d, end });
    if (out.length > MAX_EXTENTS) return undefined;
    pos = end;
  }
  if (out.length === 1 && out[0]?.start === 0 && out[0].end === size) return undefined; // no holes after all
  return out;
}
