// Raw images: stream the bytes, turn repeated-word blocks into fills, file holes into zero fills, and ranges a .bmap
// leaves out into skips.
import type { Chunk } from '../contracts/source.js';
import type { ByteSource } from './byte-source.js';
import { READ_BYTES } from './byte-source.js';
import type { Extent } from './file-extents.js';
import { HashedSource } from './hashed-source.js';
import { SCAN_BLOCK, scanFills } from './hole-scan.js';
import { SegmentList, hashFileInWorker } from './hash-worker.js';
import { rawRegions, regionBytes, type RawRegion } from './raw-regions.js';

/** The worker hash of a raw file: its data regions read, holes and ranges a bmap leaves out hashed as zeros. */
function rawOffload(path: string, regions: readonly RawRegion[]): () => Promise<string> {
  return () => {
    const segs = new SegmentList();
    for (const r of regions) {
      if (r.kind === 'data') segs.file(r.start, r.end - r.start);
      else segs.fill(0, r.end - r.start);
    }
    return hashFileInWorker(path, segs.done());
  };
}

function knownHash(sha256: string): () => Promise<string> {
  return () => Promise.resolve(sha256);
}

/** Data reads of a file scan kept in flight beyond the one being scanned (4 MiB each). */
const SCAN_AHEAD = 2;

/** A byte range [start, end) of the image. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface RawOptions {
  size: number;
  description: string;
  hash: boolean;
  reopenable: boolean;
  /** Ranges a bmap maps (sorted, disjoint); everything else becomes `skip`. Undefined: all mapped. */
  mapped?: ByteRange[];
  /** The image is this whole file (not inside a container): hash it in a worker thread. */
  filePath?: string;
  /** Rejects with `image_mismatch` when the file behind the image changed since it was opened. */
  unchanged?: () => Promise<void>;
  /**
   * The file's data extents (SEEK_DATA/SEEK_HOLE, taken when it was opened): its holes become zero fills without
   * being read, here and in the worker hash. Undefined: read everything.
   */
  extents?: Extent[];
  /** The SHA-256 of the image, already known (a spool computed it while decoding): nothing is read again for it. */
  sha256?: string;
}

export class RawSource extends HashedSource {
  private readonly mapped: ByteRange[] | undefined;
  private readonly regions: RawRegion[];
  readonly readAt?: (offset: number, length: number, signal?: AbortSignal) => Promise<Uint8Array>;
  /** The file's bytes read straight into a caller's buffer (reused buffers: no fresh memory per read). */
  readonly readInto?: (target: Uint8Array, offset: number, signal?: AbortSignal) => Promise<number>;

  constructor(
    private readonly bytes: ByteSource,
    o: RawOptions,
  ) {
    const regions = rawRegions(o.size, o.mapped, o.extents);
    super({ size: o.size, blockSize: SCAN_BLOCK, description: o.description, reopenable: o.reopenable,
      dataBytes: regionBytes(regions, 'data'), exact: false, hash: o.hash,
      offload: o.sha256 !== undefined ? knownHash(o.sha256) : o.filePath ? rawOffload(o.filePath, regions) : undefined, unchanged: o.unchanged });
    this.mapped = o.mapped;
    this.regions = regions;
    const readAt = bytes.readAt;
    if (readAt) this.readAt = (offset, length, signal) => readAt.call(bytes, offset, length, signal);
    const readInto = bytes.readInto;
    if (readInto) this.readInto = (target, offset, signal) => readInto.call(bytes, target, offset, signal);
  }

  protected async *produce(signal: AbortSignal | undefined, lent: boolean): AsyncGenerator<Chunk> {
    let fills = 0;
    // Data left once the fills found so far are taken out (holes and skips are never counted as data).
    const mappedData = regionBytes(this.regions, 'data');
    const out: Chunk[] = [];
    const emit = function* (this: RawSource): Generator<Chunk> {
      for (const c of out) {
        if (c.kind === 'fill') {
          fills += c.length;
          this.data = mappedData - fills;
        }
        yield c;
      }
      out.length = 0;
    }.bind(this);
    if (this.bytes.readInto) {
      yield* this.scanFile(signal, out, emit, lent);
    } else if (this.mapped && this.readAt) {
      // Random access with a bmap: read only the mapped ranges.
      let pos = 0;
      for (const r of this.mapped) {
        if (r.start > pos) yield { kind: 'skip', offset: pos, length: r.start - pos };
        for (let at = r.start; at < r.end; at += READ_BYTES) {
          signal?.throwIfAborted();
          const b = await this.readAt(at, Math.min(READ_BYTES, r.end - at), signal);
          scanFills(b, at, out);
          yield* emit();
        }
        pos = r.end;
      }
      if (pos < this.size) yield { kind: 'skip', offset: pos, length: this.size - pos };
    } else {
      yield* this.scanStream(signal, out, emit, lent);
    }
    this.data = mappedData - fills;
    this.isExact = true;
  }

  /**
   * Scan a file region by region: skips and holes cost no read; data is read through a few buffers (the next reads
   * overlap the scan of the current one), reused while they hold only fills. Most of a sparse-looking raw image is
   * zeros, and fresh buffers would fault in every page of it.
   */
  private async *scanFile(signal: AbortSignal | undefined, out: Chunk[], emit: () => Generator<Chunk>, lent: boolean): AsyncGenerator<Chunk> {
    const readInto = this.bytes.readInto;
    if (!readInto) return;
    // Reads of at most READ_BYTES, in order; a read's index in `reads` picks its buffer.
    const reads: { at: number; n: number }[] = [];
    const regionReads: number[] = []; // per region: index of its first read
    for (const r of this.regions) {
      regionReads.push(reads.length);
      if (r.kind === 'data') for (let at = r.start; at < r.end; at += READ_BYTES) reads.push({ at, n: Math.min(READ_BYTES, r.end - at) });
    }
    // A ring of SCAN_AHEAD + 1 buffers: reads k+1 … k+SCAN_AHEAD run on the thread pool while read k is scanned. Each
    // read is a hop to another thread and back, and on a loaded machine each hop waits for a core: several in flight
    // overlap those waits. The buffer read k+SCAN_AHEAD goes into is read k-1's, which the consumer is done with.
    const ring = SCAN_AHEAD + 1;
    const bufs: Buffer[] = [];
    const pending = new Map<number, Promise<number>>();
    let issued = 0;
    const issue = (upTo: number): void => {
      for (; issued <= upTo && issued < reads.length; issued++) {
        const r = reads[issued] as { at: number; n: number };
        const slot = issued % ring;
        let b = bufs[slot];
        if (!b) bufs[slot] = b = Buffer.allocUnsafe(READ_BYTES);
        const p = readInto.call(this.bytes, b.subarray(0, r.n), r.at, signal);
        p.catch(() => undefined);
        pending.set(issued, p);
      }
    };
    let k = 0;
    for (let ri = 0; ri < this.regions.length; ri++) {
      const r = this.regions[ri] as RawRegion;
      signal?.throwIfAborted();
      if (r.kind !== 'data') {
        // (not through `emit`: a hole is not data the scan found to be a fill)
        yield r.kind === 'skip' ? { kind: 'skip', offset: r.start, length: r.end - r.start }
          : { kind: 'fill', offset: r.start, length: r.end - r.start, value: 0 };
        continue;
      }
      for (k = regionReads[ri] ?? k; k < reads.length && (reads[k]?.at ?? 0) < r.end; k++) {
        issue(k + SCAN_AHEAD);
        const n = await (pending.get(k) as Promise<number>);
        pending.delete(k);
        const cur = bufs[k % ring] as Buffer;
        scanFills(cur.subarray(0, n), (reads[k] as { at: number }).at, out);
        // Data chunks are views of `cur` and belong to the consumer now: read into a fresh buffer next time. A buffer
        // that held only fills is reused, so long zero runs cost no page faults.
        if (!lent && out.some((c) => c.kind === 'data')) bufs[k % ring] = Buffer.allocUnsafe(READ_BYTES);
        yield* emit();
      }
    }
  }

  /** Scan a stream in 4096-byte alignment (a block split across slices is put together), honouring skips. */
  private async *scanStream(signal: AbortSignal | undefined, out: Chunk[], emit: () => Generator<Chunk>, lent: boolean): AsyncGenerator<Chunk> {
    const ranges = this.mapped;
    let ri = 0;
    let pos = 0; // image offset of the next byte from the stream
    const carry = new Uint8Array(SCAN_BLOCK);
    let carried = 0;
    let carryAt = 0;
    // Emit bytes [at, at+len) of the image that are mapped (bmap) as scanned chunks, the rest as skips.
    const place = (bytes: Uint8Array, at: number): void => {
      if (!ranges) {
        scanFills(bytes, at, out);
        return;
      }
      let o = 0;
      while (o < bytes.length) {
        const abs = at + o;
        while (ri < ranges.length && (ranges[ri]?.end ?? 0) <= abs) ri++;
        const r = ranges[ri];
        if (!r || r.start > abs) {
          const end = Math.min(at + bytes.length, r ? r.start : Number.POSITIVE_INFINITY);
          pushSkip(out, abs, end - abs);
          o = end - at;
        } else {
          const end = Math.min(at + bytes.length, r.end);
          scanFills(bytes.subarray(o, end - at), abs, out);
          o = end - at;
        }
      }
    };
    for await (const slice of this.bytes.stream(signal)) {
      let s = slice;
      if (pos + s.length > this.size) s = s.subarray(0, Math.max(0, this.size - pos));
      let o = 0;
      if (carried > 0) {
        const take = Math.min(SCAN_BLOCK - carried, s.length);
        carry.set(s.subarray(0, take), carried);
        carried += take;
        o = take;
        if (carried === SCAN_BLOCK) {
          place(carry.slice(), carryAt);
          carried = 0;
        }
      }
      const whole = Math.floor((s.length - o) / SCAN_BLOCK) * SCAN_BLOCK;
      if (whole > 0) place(s.subarray(o, o + whole), pos + o);
      const rest = s.length - o - whole;
      if (rest > 0) {
        carry.set(s.subarray(o + whole), 0);
        carried = rest;
        carryAt = pos + o + whole;
      }
      pos += s.length;
      if (!lent) ownData(out); // the slice is lent to us
      yield* emit();
    }
    if (carried > 0) {
      place(carry.slice(0, carried), carryAt);
      yield* emit();
    }
  }
}

/**
 * Give data chunks their own bytes: they are views of a reused read buffer or a lent stream slice, and a consumer may
 * keep them (shareSource, a driver with writes in flight). (`Buffer#slice` would be a view: copy with `new Uint8Array`.)
 */
function ownData(out: Chunk[]): void {
  for (let k = 0; k < out.length; k++) {
    const c = out[k];
    if (c?.kind === 'data') out[k] = { kind: 'data', offset: c.offset, bytes: new Uint8Array(c.bytes) };
  }
}

function pushSkip(out: Chunk[], offset: number, length: number): void {
  const last = out[out.length - 1];
  if (last?.kind === 'skip' && last.offset + last.length === offset) last.length += length;
  else out.push({ kind: 'skip', offset, length });
}
