// Test images for the block family: raw files with random data, zero runs and a pattern fill; xz and bmap beside them.
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

export interface TestImage {
  raw: string;
  xz: string;
  size: number;
  /** Byte ranges holding random data. */
  data: Array<{ start: number; end: number }>;
}

/**
 * A sparse raw image of `size` bytes at `path`: random data in `data` ranges (the rest holes, reading as zeros), and a
 * 0xAA pattern in the first 4 KiB. With `bmap`, `bmaptool create` writes `path.bmap`; `xz` writes `path.xz`.
 */
export function makeImage(path: string, size: number, data: Array<{ start: number; end: number }>, o: { bmap?: boolean } = {}): TestImage {
  writeFileSync(path, '');
  execFileSync('truncate', ['-s', String(size), path]);
  const fd = openSync(path, 'r+');
  writeSync(fd, Buffer.alloc(4096, 0xaa), 0, 4096, 0);
  for (const r of data) writeSync(fd, dataBytes(r.start, r.end - r.start), 0, r.end - r.start, r.start);
  closeSync(fd);
  if (o.bmap) execFileSync('bmaptool', ['create', '-o', `${path}.bmap`, path], { stdio: 'ignore' });
  execFileSync('xz', ['-T2', '-1', '-k', '-f', path]);
  return { raw: path, xz: `${path}.xz`, size, data: [{ start: 0, end: 4096 }, ...data] };
}

const seed = randomBytes(64 << 10);

/**
 * Bytes for [offset, offset + length): a random 64 KiB block repeated, each 4 KiB stamped with its own offset, so a
 * block written in the wrong place shows, and xz compresses it fast (random data took minutes on a loaded machine).
 */
export function dataBytes(offset: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let o = 0; o < length; o += seed.length) seed.copy(b, o, 0, Math.min(seed.length, length - o));
  for (let o = 0; o < length; o += 4096) if (o + 8 <= length) b.writeDoubleLE(offset + o + 1, o);
  return b;
}

/** The first `length` bytes of a device or file. */
export function head(path: string, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(length);
    let got = 0;
    while (got < length) {
      const n = readSync(fd, b, got, length - got, got);
      if (n === 0) break;
      got += n;
    }
    return b.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

export function sameBytes(image: string, dev: string): boolean {
  const a = readFileSync(image);
  return a.equals(head(dev, a.length));
}
