// A simulated device's flash: one sparse file per partition (`DIR/NAME.img`), holes kept as holes.
//
// Each file remembers which byte ranges may hold non-zero data. Zeros written onto a range known to be zero are
// skipped (so the file stays sparse), zero fills over old data punch holes where the file system allows it, and the
// partition always reads back exactly as what was flashed.
import { execFile } from 'node:child_process';
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ExtentSet } from './extents.js';

const BLOCK = 4096;
const CHUNK = 1024 * 1024;
const ZEROS = Buffer.alloc(CHUNK);
/** Zero runs at least this long are punched out rather than written. */
const PUNCH_MIN = 64 * 1024;

let punchWorks: boolean | undefined;


function punchHole(path: string, offset: number, length: number): Promise<boolean> {
  if (punchWorks === false) return Promise.resolve(false);
  return new Promise((resolve) => {
    execFile('fallocate', ['--punch-hole', '--offset', String(offset), '--length', String(length), path], (err) => {
      if (err) punchWorks = false;
      else punchWorks = true;
      resolve(!err);
    });
  });
}

/**
 * Punch many holes with one spawned shell (a Node spawn costs ~20 ms; one per zero run made flashing a sparse image
 * over old data slow). Resolves false when punching is not possible here.
 */
function punchHoles(path: string, ranges: Array<readonly [number, number]>): Promise<boolean> {
  if (punchWorks === false || ranges.length === 0) return Promise.resolve(ranges.length === 0);
  const script = 'p=$1; shift; while [ $# -gt 1 ]; do fallocate --punch-hole --offset "$1" --length "$2" "$p" || exit 1; shift 2; done';
  const args = ['-c', script, 'sh', path, ...ranges.flatMap(([a, b]) => [String(a), String(b - a)])];
  return new Promise((resolve) => {
    execFile('sh', args, (err) => {
      if (err) punchWorks = false;
      else punchWorks = true;
      resolve(!err);
    });
  });
}

function isZero(buf: Uint8Array, start: number, end: number): boolean {
  let i = start;
  while (i < end) {
    const n = Math.min(CHUNK, end - i);
    if (Buffer.compare(buf.subarray(i, i + n), ZEROS.subarray(0, n)) !== 0) return false;
    i += n;
  }
  return true;
}

export class PartitionFile {
  readonly path: string;
  #size: number;
  #handle: FileHandle;
  /** Ranges that may hold non-zero bytes; everything else reads as zero. */
  readonly dirty = new ExtentSet();
  /** Bytes actually written to the file (zeros skipped), for tests and the docs' claims. */
  bytesWritten = 0;
  /** A reused pattern buffer for FILL chunks (fresh large allocations are slow to fault in on VMs); one per file,
   *  as a file's writes never overlap. */
  #pattern: Buffer | undefined;
  #patternValue: number | undefined;

  private constructor(path: string, size: number, handle: FileHandle) {
    this.path = path;
    this.#size = size;
    this.#handle = handle;
  }

  static async open(path: string, size: number): Promise<PartitionFile> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r+');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      handle = await open(path, 'w+');
    }
    let st: Awaited<ReturnType<FileHandle['stat']>>;
    try {
      st = await handle.stat();
      if (st.size !== size) await handle.truncate(size);
    } catch (e) {
      await handle.close().catch(() => undefined); // (not left to garbage collection)
      throw e;
    }
    const file = new PartitionFile(path, size, handle);
    // A file without allocated blocks is all holes; otherwise we cannot tell (Node has no SEEK_DATA) and assume data.
    if (st.blocks > 0) file.dirty.add(0, Math.min(st.size, size));
    return file;
  }

  get size(): number {
    return this.#size;
  }

  #check(offset: number, length: number): void {
    if (offset < 0 || length < 0 || offset + length > this.#size) {
      throw new RangeError(`write of ${length} bytes at ${offset} is outside the partition (${this.#size} bytes)`);
    }
  }

  async #writeAll(data: Uint8Array, start: number, end: number, position: number): Promise<void> {
    let off = start;
    while (off < end) {
      const { bytesWritten } = await this.#handle.write(data, off, end - off, position + (off - start));
      off += bytesWritten;
    }
    this.bytesWritten += end - start;
  }

  /** Write `data` at `offset`; all-zero blocks that land on known-zero ranges are left as holes. */
  async write(offset: number, data: Uint8Array): Promise<void> {
    this.#check(offset, data.length);
    const end = offset + data.length;
    let pos = offset;
    const pieces = this.dirty.intersect(offset, end);
    for (const [a, b] of [...pieces, [end, end] as const]) {
      if (a > pos) await this.#writeClean(offset, data, pos, a);
      if (b > a) await this.#writeAll(data, a - offset, b - offset, a);
      pos = Math.max(pos, b);
    }
  }

  /** Write the part [from, to) of a buffer that starts at partition offset `base`, onto a known-zero range. */
  async #writeClean(base: number, data: Uint8Array, from: number, to: number): Promise<void> {
    let runStart = -1;
    let p = from;
    while (p < to) {
      const blockEnd = Math.min(to, (Math.floor(p / BLOCK) + 1) * BLOCK);
      const zero = isZero(data, p - base, blockEnd - base);
      if (!zero && runStart < 0) runStart = p;
      if (zero && runStart >= 0) {
        await this.#writeAll(data, runStart - base, p - base, runStart);
        this.dirty.add(runStart, p);
        runStart = -1;
      }
      p = blockEnd;
    }
    if (runStart >= 0) {
      await this.#writeAll(data, runStart - base, to - base, runStart);
      this.dirty.add(runStart, to);
    }
  }

  /** `length` bytes of one repeated little-endian 32-bit word. */
  async fill(offset: number, length: number, value: number): Promise<void> {
    this.#check(offset, length);
    if (value === 0) return this.zero(offset, length);
    const v = value >>> 0;
    let p = offset;
    const end = offset + length;
    while (p < end) {
      // Each piece starts at a multiple of 4 from the fill's start, so the word phase is kept.
      const n = Math.min(CHUNK, end - p);
      await this.#writeAll(this.#patternOf(v), 0, n, p);
      p += n;
    }
    this.dirty.add(offset, end);
  }

  #patternOf(value: number): Buffer {
    this.#pattern ??= Buffer.allocUnsafeSlow(CHUNK);
    if (this.#patternValue !== value) {
      for (let i = 0; i < CHUNK; i += 4) this.#pattern.writeUInt32LE(value, i);
      this.#patternValue = value;
    }
    return this.#pattern;
  }

  /** Make [offset, offset+length) read as zeros without allocating blocks for them where possible. */
  async zero(offset: number, length: number): Promise<void> {
    this.#check(offset, length);
    for (const [a, b] of this.dirty.intersect(offset, offset + length)) {
      if (b - a < PUNCH_MIN || !(await punchHole(this.path, a, b - a))) {
        for (let p = a; p < b; p += CHUNK) await this.#writeAll(ZEROS, 0, Math.min(CHUNK, b - p), p);
      }
      this.dirty.remove(a, b);
    }
  }

  /** Ranges `zeroLater` took off the dirty set, punched (or zero-written) by `flushZeros`. */
  #pendingZeros: Array<readonly [number, number]> = [];

  /**
   * Like `zero`, but the holes are punched together by `flushZeros()` (the ranges read as zeros only after it). For
   * one sparse image, whose chunks never overlap: call `flushZeros()` before anything else reads or writes them.
   */
  zeroLater(offset: number, length: number): void {
    this.#check(offset, length);
    for (const [a, b] of this.dirty.intersect(offset, offset + length)) {
      this.#pendingZeros.push([a, b]);
      this.dirty.remove(a, b);
    }
  }

  async flushZeros(): Promise<void> {
    const ranges = this.#pendingZeros;
    this.#pendingZeros = [];
    const big = ranges.filter(([a, b]) => b - a >= PUNCH_MIN);
    const punched = await punchHoles(this.path, big);
    for (const [a, b] of ranges) {
      if (punched && b - a >= PUNCH_MIN) continue;
      for (let p = a; p < b; p += CHUNK) await this.#writeAll(ZEROS, 0, Math.min(CHUNK, b - p), p);
    }
  }

  /** Erase the whole partition: it reads as zeros and occupies no blocks. */
  async erase(): Promise<void> {
    await this.#handle.truncate(0);
    await this.#handle.truncate(this.#size);
    this.dirty.clear();
  }

  /** Grow (with a hole) or shrink the partition. */
  async resize(size: number): Promise<void> {
    await this.#handle.truncate(size);
    if (size < this.#size) this.dirty.remove(size, Number.MAX_SAFE_INTEGER);
    this.#size = size;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const n = Math.max(0, Math.min(length, this.#size - offset));
    const buf = Buffer.alloc(n);
    let got = 0;
    while (got < n) {
      const { bytesRead } = await this.#handle.read(buf, got, n - got, offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf;
  }

  async sync(): Promise<void> {
    await this.#handle.datasync();
  }

  async close(): Promise<void> {
    await this.#handle.close();
  }
}

/** All partition files of one device, by reported name (`boot_a`, `userdata`, …). */
export class PartitionStore {
  readonly dir: string;
  readonly #files = new Map<string, PartitionFile>();
  /** Opens in flight, by name: a second add() of the same name shares the first one's open. */
  readonly #opening = new Map<string, Promise<PartitionFile>>();

  constructor(dir: string) {
    this.dir = dir;
  }

  pathOf(name: string): string {
    return join(this.dir, `${name}.img`);
  }

  /** Open every partition file; when one fails, those already opened are closed again. */
  async open(partitions: readonly { name: string; size: number }[]): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    try {
      for (const p of partitions) await this.add(p.name, p.size);
    } catch (e) {
      await this.close();
      throw e;
    }
  }

  async add(name: string, size: number): Promise<PartitionFile> {
    const existing = this.#files.get(name);
    if (existing) return existing;
    let opening = this.#opening.get(name);
    if (!opening) {
      opening = PartitionFile.open(this.pathOf(name), size).then((file) => {
        this.#files.set(name, file);
        return file;
      }).finally(() => this.#opening.delete(name));
      this.#opening.set(name, opening);
    }
    return opening;
  }

  get(name: string): PartitionFile | undefined {
    return this.#files.get(name);
  }

  async remove(name: string): Promise<void> {
    const f = this.#files.get(name);
    if (!f) return;
    this.#files.delete(name);
    await f.close();
    await rm(f.path, { force: true });
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#opening.values()]);
    const files = [...this.#files.values()];
    this.#files.clear();
    await Promise.all(files.map((f) => f.close().catch(() => undefined)));
  }
}
