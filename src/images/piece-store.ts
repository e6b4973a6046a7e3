// Where a piece's data comes from while it streams: read again from the source (readAt), or kept since planning.
import { open, type FileHandle } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BlockSource } from '../contracts/source.js';
import { FlashError } from '../contracts/errors.js';
import type { BlockRun } from './block-runs.js';
import { PIECE_SLICE_BYTES } from './types.js';
import { copyMeter, type BufferPool } from './buffer-pool.js';

export interface PieceStore {
  /** Called for every run as planning takes it from the source. */
  put(run: BlockRun): Promise<void> | void;
  /** The data bytes of blocks [start, start + blocks), in slices of at most the store's slice size. */
  read(start: number, blocks: number, signal?: AbortSignal): AsyncGenerator<Uint8Array>;
  close(): Promise<void>;
}

/** A source that can read expanded bytes straight into a caller's buffer (raw and uncompressed sparse files). */
export type ReadIntoSource = BlockSource & {
  /** Reads `target.length` bytes at `offset` (fewer at the image's end); resolves with the number read. */
  readInto?(target: Uint8Array, offset: number, signal?: AbortSignal): Promise<number>;
};

/** Slice reads kept in flight ahead of the consumer (they run on the thread pool while the device takes the bytes). */
const READ_AHEAD = 2;

/**
 * Re-reads data with `readAt` (raw and uncompressed sparse files): nothing is kept between planning and sending.
 * With a pool and a source that reads into buffers, slices are read into the pool's buffers, a few ahead of the
 * consumer; a slice's buffer is reused once the consumer releases it (the transport has sent it).
 */
export class ReadAtStore implements PieceStore {
  /** Largest slice: the pool's buffer size, or PIECE_SLICE_BYTES without a pool. */
  private readonly slice: number;

  constructor(
    private readonly source: ReadIntoSource,
    private readonly blockSize: number,
    private readonly pool?: BufferPool,
  ) {
    this.slice = pool?.bufferBytes ?? PIECE_SLICE_BYTES;
  }
  put(): void {}
  read(start: number, blocks: number, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    const pool = this.pool;
    const readInto = this.source.readInto;
    if (pool && readInto) return this.readPooled(start, blocks, pool, readInto, signal);
    return this.readFresh(start, blocks, signal);
  }

  private async *readPooled(
    start: number,
    blocks: number,
    pool: BufferPool,
    readInto: NonNullable<ReadIntoSource['readInto']>,
    signal?: AbortSignal,
  ): AsyncGenerator<Uint8Array> {
    const end = (start + blocks) * this.blockSize;
    let next = start * this.blockSize;
    const ahead: Promise<Uint8Array>[] = [];
    const readOne = (off: number): Promise<Uint8Array> => {
      const n = Math.min(this.slice, end - off);
      const b = pool.take().subarray(0, n);
      const avail = Math.max(0, Math.min(n, this.source.size - off));
      const p = (avail > 0 ? readInto.call(this.source, b.subarray(0, avail), off, signal) : Promise.resolve(0)).then((got) => {
        if (got !== avail) throw new FlashError('image_unreadable', `${this.source.description}: short read at ${off}`);
        if (avail < n) b.fill(0, avail); // the image's last block, zero-padded
        return b;
      });
      p.catch(() => undefined);
      return p;
    };
    while (next < end || ahead.length > 0) {
      while (ahead.length < READ_AHEAD + 1 && next < end) {
        ahead.push(readOne(next));
        next += this.slice;
      }
      signal?.throwIfAborted();
      const b = ahead.shift();
      if (b) yield await b;
    }
  }

  private async *readFresh(start: number, blocks: number, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    const readAt = this.source.readAt;
    if (!readAt) throw new FlashError('internal', 'source has no readAt');
    let off = start * this.blockSize;
    const end = (start + blocks) * this.blockSize;
    while (off < end) {
      const n = Math.min(this.slice, end - off);
      const avail = Math.max(0, Math.min(n, this.source.size - off));
      let b = avail > 0 ? await readAt.call(this.source, off, avail, signal) : new Uint8Array(0);
      if (b.length !== n) {
        if (b.length !== avail) throw new FlashError('image_unreadable', `${this.source.description}: short read at ${off}`);
        const padded = new Uint8Array(n); // the image's last block, zero-padded
        padded.set(b);
        copyMeter.count(b.length);
        b = padded;
      }
      yield b;
      off += n;
    }
  }
  async close(): Promise<void> {}
}

/** Arena block: small images do not reserve the whole memory limit. */
const ARENA_BLOCK = 4 << 20;

interface Segment {
  start: number;
  blocks: number;
  mem?: Uint8Array;
  spillAt?: number;
}

/**
 * Keeps the data of planned runs for sources that stream once (compressed input): copied into memory up to
 * `memoryLimit` bytes, beyond that appended to a temporary file that is emptied whenever everything kept has been sent.
 * Runs may be lent (valid only during `put`).
 */
export class BufferStore implements PieceStore {
  private readonly fifo: Segment[] = [];
  private memBytes = 0;
  /**
   * Where kept runs are copied (runs may be lent views of a decoder's buffers): blocks allocated once and refilled
   * whenever everything kept has been sent. Never handed out (pieces get copies), so a consumer keeping slices is safe,
   * and the blocks live for the whole resparse instead of becoming old-generation garbage once per piece.
   */
  private readonly arena: Buffer[] = [];
  private arenaBlock = 0;
  private arenaUsed = 0;
  private spill: { dir: string; fh: FileHandle; size: number } | null = null;
  private spillOpening: Promise<void> | null = null;

  constructor(
    private readonly blockSize: number,
    private readonly memoryLimit = 8 << 20,
    /** Where the slices handed out come from (reused once released; its buffer size is the slice size). */
    private readonly pool?: BufferPool,
  ) {
    this.slice = pool?.bufferBytes ?? PIECE_SLICE_BYTES;
  }

  /** Largest slice handed out. */
  private readonly slice: number;

  /** A buffer for `n` bytes of a slice: the pool's, or a fresh one. */
  private sliceBuffer(n: number): Uint8Array {
    return this.pool && n <= this.pool.bufferBytes ? this.pool.take().subarray(0, n) : Buffer.allocUnsafe(n);
  }

  async put(run: BlockRun): Promise<void> {
    if (run.kind !== 'data') return;
    const n = run.bytes.length;
    const mem = this.memBytes + n <= this.memoryLimit ? this.arenaSpace(n) : null;
    if (mem) {
      mem.set(run.bytes);
      copyMeter.count(n);
      this.fifo.push({ start: run.start, blocks: run.blocks, mem });
      this.memBytes += n;
      return;
    }
    const s = await this.spillFile();
    const at = s.size;
    let done = 0;
    while (done < run.bytes.length) {
      const { bytesWritten } = await s.fh.write(run.bytes, done, run.bytes.length - done, at + done);
      done += bytesWritten;
    }
    s.size += run.bytes.length;
    this.fifo.push({ start: run.start, blocks: run.blocks, spillAt: at });
  }

  /** `n` bytes of arena (a run larger than one block, or past the limit's blocks, goes to the spill file instead). */
  private arenaSpace(n: number): Buffer | null {
    if (n > ARENA_BLOCK) return null;
    let block = this.arena[this.arenaBlock];
    if (block && this.arenaUsed + n > block.length) {
      this.arenaBlock++;
      this.arenaUsed = 0;
      block = this.arena[this.arenaBlock];
    }
    if (!block) {
      if ((this.arenaBlock + 1) * ARENA_BLOCK > this.memoryLimit) return null;
      block = Buffer.allocUnsafe(ARENA_BLOCK);
      this.arena.push(block);
    }
    const mem = block.subarray(this.arenaUsed, this.arenaUsed + n);
    this.arenaUsed += n;
    return mem;
  }

  private async spillFile(): Promise<{ dir: string; fh: FileHandle; size: number }> {
    if (!this.spill) {
      this.spillOpening ??= (async () => {
        const dir = await mkdtemp(join(tmpdir(), 'flash-station-piece-'));
        const fh = await open(join(dir, 'piece.bin'), 'w+');
        this.spill = { dir, fh, size: 0 };
      })();
      await this.spillOpening;
    }
    if (!this.spill) throw new FlashError('internal', 'spill file missing');
    return this.spill;
  }

  async *read(start: number, blocks: number, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    const bs = this.blockSize;
    let at = start;
    const end = start + blocks;
    while (at < end) {
      signal?.throwIfAborted();
      const seg = this.fifo[0];
      if (!seg) throw new FlashError('internal', `piece data for block ${at} is missing`);
      if (seg.start + seg.blocks <= at) {
        this.drop(); // an abandoned piece's data
        continue;
      }
      if (seg.start > at) throw new FlashError('internal', `piece data for block ${at} is missing`);
      const skip = at - seg.start;
      const take = Math.min(seg.start + seg.blocks, end) - at;
      const segEndTaken = skip + take === seg.blocks;
      if (seg.mem) {
        const view = seg.mem.subarray(skip * bs, (skip + take) * bs);
        for (let o = 0; o < view.length; o += this.slice) {
          // A copy: the arena is refilled while slices may still be on their way to the device.
          const part = view.subarray(o, o + this.slice);
          const b = this.sliceBuffer(part.length);
          b.set(part);
          copyMeter.count(part.length);
          yield b;
        }
      } else if (seg.spillAt !== undefined && this.spill) {
        const base = seg.spillAt + skip * bs;
        const len = take * bs;
        for (let o = 0; o < len; o += this.slice) {
          const n = Math.min(this.slice, len - o);
          const b = this.sliceBuffer(n);
          const { bytesRead } = await this.spill.fh.read(b, 0, n, base + o);
          if (bytesRead !== n) throw new FlashError('image_unreadable', 'temporary piece file was cut short');
          yield b;
        }
      }
      at += take;
      if (segEndTaken) this.drop();
    }
  }

  private drop(): void {
    const seg = this.fifo.shift();
    if (seg?.mem) this.memBytes -= seg.mem.length;
    if (this.memBytes === 0) {
      this.arenaBlock = 0; // everything kept was sent (as copies): refill the arena from its start
      this.arenaUsed = 0;
    }
    // Nothing kept in the file any more: write from its start again (its size stays bounded by one piece).
    if (this.spill && !this.fifo.some((s) => s.spillAt !== undefined)) this.spill.size = 0;
  }

  async close(): Promise<void> {
    this.fifo.length = 0;
    this.memBytes = 0;
    this.arena.length = 0;
    if (this.spillOpening) await this.spillOpening.catch(() => undefined);
    const s = this.spill;
    this.spill = null;
    if (s) {
      await s.fh.close().catch(() => undefined);
      await rm(s.dir, { recursive: true, force: true });
    }
  }
}
