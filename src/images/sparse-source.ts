// Android sparse images as BlockSources: parsed while streaming; uncompressed files are checked whole up front.
import type { Chunk } from '../contracts/source.js';
import { FlashError } from '../contracts/errors.js';
import type { BlockRun } from './block-runs.js';
import type { ByteSource } from './byte-source.js';
import { ByteReader } from './byte-reader.js';
import { headerWindow } from './header-window.js';
import { HashedSource } from './hashed-source.js';
import { SegmentList, hashFileInWorker } from './hash-worker.js';
import { READ_BYTES } from './byte-source.js';
import { copyMeter } from './buffer-pool.js';
import {
  CHUNK_CRC32,
  CHUNK_DONT_CARE,
  CHUNK_FILL,
  CHUNK_HEADER_SIZE,
  CHUNK_RAW,
  FILE_HEADER_SIZE,
  blockCountError,
  parseChunkHeader,
  type SparseHeader,
} from './sparse-format.js';

/** Raw data reads of an indexed file kept in flight (4 MiB each): two cores, and the consumer needs one. */
const READS_IN_FLIGHT = 3;

/** Where each chunk of an uncompressed sparse file lies (for random access), built by `indexSparseFile`. */
export interface SparseIndex {
  /** First output block of each chunk (ascending), then totalBlocks. */
  starts: Float64Array;
  /** Chunk kind: 0 raw, 1 fill, 2 don't care. CRC chunks are left out. */
  kinds: Uint8Array;
  /** File offset of a raw chunk's data, or a fill's value. */
  where: Float64Array;
  dataBytes: number;
}

/**
 * Read every chunk header of a sparse file with random access and check the chunk table before anything is written:
 * types, sizes, the block sum against total_blks, and the file's length.
 */
export async function indexSparseFile(src: ByteSource, h: SparseHeader, fileSize: number, signal?: AbortSignal): Promise<SparseIndex> {
  const what = src.description;
  const n = h.totalChunks;
  const starts = new Float64Array(n + 1);
  const kinds = new Uint8Array(n);
  const where = new Float64Array(n);
  let count = 0;
  let pos = h.fileHeaderSize;
  let block = 0;
  let dataBytes = 0;
  // Runs of small chunks share one window read.
  const win = headerWindow(src, fileSize, { windowBytes: 64 << 10, signal });
  try {
    for (let i = 0; i < n; i++) {
      if (pos + CHUNK_HEADER_SIZE > fileSize) {
        throw new FlashError('image_invalid', `${what}: file ends at chunk ${i + 1} of ${n}: it is truncated`);
      }
      const c = parseChunkHeader(await win.read(pos, CHUNK_HEADER_SIZE), h, i, what);
      const body = pos + h.chunkHeaderSize;
      if (c.type !== CHUNK_CRC32) {
        starts[count] = block;
        kinds[count] = c.type === CHUNK_RAW ? 0 : c.type === CHUNK_FILL ? 1 : 2;
        if (c.type === CHUNK_RAW) where[count] = body;
        else if (c.type === CHUNK_FILL) {
          if (body + 4 > fileSize) throw new FlashError('image_invalid', `${what}: file ends in chunk ${i + 1}: it is truncated`);
          const v = await win.read(body, 4);
          where[count] = new DataView(v.buffer, v.byteOffset, 4).getUint32(0, true);
        }
        count++;
        block += c.blocks;
        if (c.type === CHUNK_RAW) dataBytes += c.blocks * h.blockSize;
      }
      pos += c.totalSize;
      if (pos > fileSize) throw new FlashError('image_invalid', `${what}: file ends in chunk ${i + 1} of ${n}: it is truncated`);
    }
  } finally {
    win.close();
  }
  if (block !== h.totalBlocks) throw blockCountError(block, h, what);
  starts[count] = block;
  return { starts: starts.subarray(0, count + 1), kinds: kinds.subarray(0, count), where: where.subarray(0, count), dataBytes };
}

/** The worker hash of an indexed sparse file: raw chunks read from the file, fills as their word, skips as zeros. */
function sparseOffload(path: string, ix: SparseIndex, bs: number): () => Promise<string> {
  return () => {
    const segs = new SegmentList();
    for (let i = 0; i < ix.kinds.length; i++) {
      const len = ((ix.starts[i + 1] ?? 0) - (ix.starts[i] ?? 0)) * bs;
      const kind = ix.kinds[i];
      if (kind === 0) segs.file(ix.where[i] ?? 0, len);
      else segs.fill(kind === 1 ? (ix.where[i] ?? 0) : 0, len);
    }
    return hashFileInWorker(path, segs.done());
  };
}

export interface SparseOptions {
  header: SparseHeader;
  description: string;
  hash: boolean;
  reopenable: boolean;
  /** With an index (uncompressed files): exact data bytes and random access. */
  index?: SparseIndex;
  /** Estimate of data bytes when there is no index. */
  dataEstimate?: number;
  /** With an index, the image is this whole file (not inside a container): hash it in a worker thread. */
  filePath?: string;
  /** Rejects with `image_mismatch` when the file behind the image changed since it was opened. */
  unchanged?: () => Promise<void>;
}

export class SparseSource extends HashedSource {
  private readonly header: SparseHeader;
  private readonly index: SparseIndex | undefined;
  readonly readAt?: (offset: number, length: number, signal?: AbortSignal) => Promise<Uint8Array>;
  /** Expanded bytes read straight into a caller's buffer (indexed files): raw chunks from the file, no copy. */
  readonly readInto?: (target: Uint8Array, offset: number, signal?: AbortSignal) => Promise<number>;

  constructor(
    private readonly bytes: ByteSource,
    o: SparseOptions,
  ) {
    const size = o.header.totalBlocks * o.header.blockSize;
    super({ size, blockSize: o.header.blockSize, description: o.description, reopenable: o.reopenable,
      dataBytes: o.index ? o.index.dataBytes : Math.min(size, o.dataEstimate ?? size), exact: o.index !== undefined, hash: o.hash,
      offload: o.index && o.filePath ? sparseOffload(o.filePath, o.index, o.header.blockSize) : undefined, unchanged: o.unchanged });
    this.header = o.header;
    this.index = o.index;
    const index = o.index;
    if (index && bytes.readAt) this.readAt = (off, len, signal) => this.readIndexed(index, off, len, signal);
    if (index && bytes.readInto) this.readInto = (target, off, signal) => this.readIndexedInto(index, target, off, signal);
  }

  /**
   * The block runs of an indexed file straight from its chunk table, without reading any data (data runs carry no
   * bytes: read them with `readAt`). Undefined when the hash needs the data to pass through `chunks()`.
   */
  layoutRuns(): AsyncIterable<BlockRun> | undefined {
    const ix = this.index;
    if (!ix || !this.hashStarted) return undefined;
    return (async function* (): AsyncGenerator<BlockRun> {
      const none = new Uint8Array(0);
      for (let i = 0; i < ix.kinds.length; i++) {
        const start = ix.starts[i] ?? 0;
        const blocks = (ix.starts[i + 1] ?? 0) - start;
        if (blocks <= 0) continue;
        const kind = ix.kinds[i];
        if (kind === 0) yield { kind: 'data', start, blocks, bytes: none };
        else if (kind === 1) yield { kind: 'fill', start, blocks, value: ix.where[i] ?? 0 };
        else yield { kind: 'skip', start, blocks };
      }
    })();
  }

  protected async *produce(signal: AbortSignal | undefined, lent: boolean): AsyncGenerator<Chunk> {
    if (this.index && this.bytes.readAt) {
      yield* this.produceIndexed(this.index, signal, lent);
      return;
    }
    const h = this.header;
    const what = this.description;
    const r = new ByteReader(this.bytes.stream(signal), what);
    try {
      await r.exact(FILE_HEADER_SIZE, 'the sparse header');
      if (h.fileHeaderSize > FILE_HEADER_SIZE) await r.skip(h.fileHeaderSize - FILE_HEADER_SIZE, 'the sparse header');
      let block = 0;
      let data = 0;
      const bs = h.blockSize;
      for (let i = 0; i < h.totalChunks; i++) {
        signal?.throwIfAborted();
        const hb = await r.exact(CHUNK_HEADER_SIZE, `the header of chunk ${i + 1}`);
        const c = parseChunkHeader(hb, h, i, what);
        if (h.chunkHeaderSize > CHUNK_HEADER_SIZE) await r.skip(h.chunkHeaderSize - CHUNK_HEADER_SIZE, `chunk ${i + 1}`);
        if (block + c.blocks > h.totalBlocks) throw blockCountError(block + c.blocks, h, what);
        const offset = block * bs;
        const length = c.blocks * bs;
        if (c.type === CHUNK_RAW) {
          let left = length;
          let at = offset;
          while (left > 0) {
            const b = await r.upTo(Math.min(left, READ_BYTES));
            if (!b) throw new FlashError('image_invalid', `${what} ends inside chunk ${i + 1} (raw data): it is truncated`);
            yield { kind: 'data', offset: at, bytes: lent ? b : new Uint8Array(b) }; // stream slices are lent to us
            at += b.length;
            left -= b.length;
          }
          data += length;
        } else if (c.type === CHUNK_FILL) {
          const v = await r.exact(4, `chunk ${i + 1} (fill value)`);
          const value = new DataView(v.buffer, v.byteOffset, 4).getUint32(0, true);
          if (length > 0) yield { kind: 'fill', offset, length, value };
        } else if (c.type === CHUNK_DONT_CARE) {
          if (length > 0) yield { kind: 'skip', offset, length };
        } else {
          await r.skip(4, `chunk ${i + 1} (crc32)`);
        }
        block += c.blocks;
        if (!this.isExact) this.data = Math.max(data, Math.min(this.data, this.size));
      }
      if (block !== h.totalBlocks) throw blockCountError(block, h, what);
      this.data = data;
      this.isExact = true;
    } finally {
      await r.close();
    }
  }

  /**
   * An indexed file's chunks from its chunk table, raw data read straight into buffers with a few reads in flight
   * (they run on the thread pool, beside the consumer, and need no copy). Owned chunks get fresh buffers; lent ones
   * (`lentChunks`) a ring of READS_IN_FLIGHT buffers, so no page is faulted in twice: a read starts only while fewer
   * than READS_IN_FLIGHT are untaken and after the consumer has asked for the chunk following the last one taken,
   * whose buffer (the only other one) is then free.
   */
  private async *produceIndexed(ix: SparseIndex, signal: AbortSignal | undefined, lent: boolean): AsyncGenerator<Chunk> {
    const readAt = this.bytes.readAt;
    if (!readAt) return;
    const readInto = lent ? this.bytes.readInto : undefined;
    const ring: Buffer[] = [];
    let issued = 0;
    const readData = (at: number, n: number): Promise<Uint8Array> => {
      if (!readInto) return readAt.call(this.bytes, at, n, signal);
      const k = issued++ % READS_IN_FLIGHT;
      const b = (ring[k] ??= Buffer.allocUnsafeSlow(READ_BYTES)).subarray(0, n);
      return readInto.call(this.bytes, b, at, signal).then(() => b);
    };
    const bs = this.header.blockSize;
    const queue: (Chunk | Promise<Chunk>)[] = [];
    let reads = 0;
    const take = async (): Promise<Chunk | undefined> => {
      const c = await queue.shift();
      if (c?.kind === 'data') reads--;
      return c;
    };
    try {
      for (let i = 0; i < ix.kinds.length; i++) {
        const start = (ix.starts[i] ?? 0) * bs;
        const length = ((ix.starts[i + 1] ?? 0) - (ix.starts[i] ?? 0)) * bs;
        if (length <= 0) continue;
        const kind = ix.kinds[i];
        const w = ix.where[i] ?? 0;
        if (kind === 0) {
          for (let o = 0; o < length; o += READ_BYTES) {
            while (reads >= READS_IN_FLIGHT || queue.length > 1024) {
              const c = await take();
              if (c) yield c;
            }
            signal?.throwIfAborted();
            const n = Math.min(READ_BYTES, length - o);
            const p = readData(w + o, n).then((bytes): Chunk => ({ kind: 'data', offset: start + o, bytes }));
            p.catch(() => undefined);
            queue.push(p);
            reads++;
          }
        } else {
          queue.push(kind === 1 ? { kind: 'fill', offset: start, length, value: w } : { kind: 'skip', offset: start, length });
        }
      }
      while (queue.length > 0) {
        const c = await take();
        if (c) yield c;
      }
      this.data = ix.dataBytes;
      this.isExact = true;
    } finally {
      queue.length = 0;
    }
  }

  /** The chunk holding expanded byte `offset` (binary search of the chunk table). */
  private chunkAt(ix: SparseIndex, offset: number): number {
    let lo = 0;
    let hi = ix.kinds.length - 1;
    const blk = Math.floor(offset / this.header.blockSize);
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((ix.starts[mid] ?? 0) <= blk) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private async readIndexedInto(ix: SparseIndex, target: Uint8Array, offset: number, signal?: AbortSignal): Promise<number> {
    const readInto = this.bytes.readInto;
    if (!readInto) throw new FlashError('internal', 'no reads into buffers');
    signal?.throwIfAborted();
    const bs = this.header.blockSize;
    const end = Math.min(offset + target.length, this.size);
    let pos = offset;
    for (let i = this.chunkAt(ix, offset); pos < end && i < ix.kinds.length; i++) {
      const cStart = (ix.starts[i] ?? 0) * bs;
      const cEnd = Math.min((ix.starts[i + 1] ?? 0) * bs, end);
      if (cEnd <= pos) continue;
      const dst = target.subarray(pos - offset, cEnd - offset);
      const kind = ix.kinds[i];
      const w = ix.where[i] ?? 0;
      if (kind === 0) {
        const got = await readInto.call(this.bytes, dst, w + (pos - cStart), signal);
        if (got !== dst.length) throw new FlashError('image_unreadable', `${this.description}: file ended early (was it changed while open?)`);
      } else if (kind === 1) {
        for (let p = pos; p < cEnd; p++) dst[p - pos] = (w >>> (8 * ((p - cStart) % 4))) & 0xff;
      } else {
        dst.fill(0);
      }
      pos = cEnd;
    }
    return Math.max(0, end - offset);
  }

  private async readIndexed(ix: SparseIndex, offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array> {
    const readAt = this.bytes.readAt;
    if (!readAt) throw new FlashError('internal', 'no random access');
    const bs = this.header.blockSize;
    const end = Math.min(offset + length, this.size);
    // binary search the chunk holding `offset`
    let lo = 0;
    let hi = ix.kinds.length - 1;
    const blk = Math.floor(offset / bs);
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((ix.starts[mid] ?? 0) <= blk) lo = mid;
      else hi = mid - 1;
    }
    // Most reads fall inside one raw chunk: hand back the file read itself (no second buffer, no copy).
    const first = ix.starts[lo] ?? 0;
    if (ix.kinds[lo] === 0 && (ix.starts[lo + 1] ?? 0) * bs >= end && end > offset) {
      return readAt.call(this.bytes, (ix.where[lo] ?? 0) + (offset - first * bs), end - offset, signal);
    }
    const out = Buffer.alloc(Math.max(0, end - offset));
    let pos = offset;
    for (let i = lo; pos < end && i < ix.kinds.length; i++) {
      const cStart = (ix.starts[i] ?? 0) * bs;
      const cEnd = Math.min((ix.starts[i + 1] ?? 0) * bs, end);
      if (cEnd <= pos) continue;
      const kind = ix.kinds[i];
      const w = ix.where[i] ?? 0;
      if (kind === 0) {
        const b = await readAt.call(this.bytes, w + (pos - cStart), cEnd - pos, signal);
        out.set(b, pos - offset);
        copyMeter.count(b.length);
      } else if (kind === 1) {
        for (let p = pos; p < cEnd; p++) out[p - offset] = (w >>> (8 * ((p - cStart) % 4))) & 0xff;
      }
      pos = cEnd;
    }
    return out;
  }
}
