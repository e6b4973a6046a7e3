// Split a BlockSource into AOSP-style sparse pieces of at most maxBytes, each with its length known before its bytes.
import type { BlockSource } from '../contracts/source.js';
import { FlashError } from '../contracts/errors.js';
import { toBlockRuns } from './block-runs.js';
import { minPieceBytes, planPieces, type PiecePlan } from './piece-plan.js';
import { BufferStore, ReadAtStore, type PieceStore } from './piece-store.js';
import { HashedSource } from './hashed-source.js';
import { SparseSource } from './sparse-source.js';
import {
  CHUNK_DONT_CARE,
  CHUNK_FILL,
  CHUNK_HEADER_SIZE,
  CHUNK_RAW,
  encodeSparseHeader,
  writeChunkHeader,
} from './sparse-format.js';
import { PIECE_SLICE_BYTES, type SparsePiece } from './types.js';
import { BufferPool, copyMeter } from './buffer-pool.js';

export interface ResparseOptions {
  signal?: AbortSignal;
  /** Without `readAt`, bytes of one piece kept in memory before the rest goes to a temporary file (default 8 MiB). */
  memoryLimit?: number;
  /**
   * Largest slice of a piece's bytes, and the size of the reused read buffers (default PIECE_SLICE_BYTES, 1 MiB). A
   * driver sending over a socket wants larger ones: fewer writes and fewer hops to the thread pool per MiB.
   */
  sliceBytes?: number;
}

const STAGING = 64 << 10;

/** A piece whose slices come from reused buffers: give each slice back once it has left for the device. */
export interface LendingPiece extends SparsePiece {
  /**
   * `slice` (one of this piece's `bytes()`) is no longer referred to by anyone — the transport has sent it — so its
   * buffer may be refilled for a later slice. Slices never released are not reused (that costs fresh memory only).
   */
  release(slice: Uint8Array): void;
}

/** Buffers of one resparse: 1 MiB read slices and the 64 KiB staging blocks that carry headers and small chunks. */
interface Pools {
  slices: BufferPool;
  stages: BufferPool;
}

/**
 * Pieces of `source`, each a complete sparse file of at most `maxBytes` keeping the image's total_blks (DONT_CARE
 * before and after its own blocks), filled to at least 7/8 of `maxBytes` except the last. Read each piece's bytes to
 * the end before asking for the next one.
 *
 * Memory: with `source.readAt` only chunk metadata is kept while planning and a piece's data is read again when it
 * streams; otherwise one piece's data is kept — up to `memoryLimit` in memory, the rest in a temporary file.
 */
export async function* resparse(source: BlockSource, maxBytes: number, options: ResparseOptions = {}): AsyncGenerator<LendingPiece> {
  const bs = source.blockSize;
  if (!Number.isSafeInteger(maxBytes) && maxBytes !== Number.POSITIVE_INFINITY) {
    throw new FlashError('bad_request', `piece limit ${maxBytes} is not a whole number of bytes`);
  }
  if (maxBytes < minPieceBytes(bs)) {
    throw new FlashError('too_large', `the device accepts only ${maxBytes} bytes per download, less than one ${bs}-byte block needs`);
  }
  const totalBlocks = Math.ceil(source.size / bs);
  if (totalBlocks > 0xffffffff) throw new FlashError('too_large', `${source.description} has more blocks than a sparse image can hold`);
  const sliceBytes = options.sliceBytes ?? PIECE_SLICE_BYTES;
  if (!Number.isSafeInteger(sliceBytes) || sliceBytes < STAGING) {
    throw new FlashError('bad_request', `slice size ${sliceBytes} is not a whole number of bytes of at least ${STAGING}`);
  }
  const pools: Pools = { slices: new BufferPool(sliceBytes), stages: new BufferPool(STAGING) };
  const store: PieceStore = source.readAt ? new ReadAtStore(source, bs, pools.slices) : new BufferStore(bs, options.memoryLimit, pools.slices);
  // An indexed sparse file is planned from its chunk table alone; its data is read once, when a piece streams.
  const layout = source.readAt && source instanceof SparseSource ? source.layoutRuns() : undefined;
  // Both stores are done with a run's bytes when `put` returns (one copies or writes it out, the other reads it again
  // later): chunks may be lent views of the reader's reused buffers, so planning a scan faults in no fresh memory.
  const chunks = source instanceof HashedSource ? source.lentChunks(options.signal) : source.chunks(options.signal);
  const runs = layout ?? toBlockRuns(chunks, bs, source.size);
  try {
    for await (const plan of planPieces(runs, { blockSize: bs, totalBlocks, maxBytes }, (r) => store.put(r))) {
      yield makePiece(plan, store, bs, totalBlocks, pools);
    }
  } finally {
    await store.close();
  }
}

function makePiece(plan: PiecePlan, store: PieceStore, bs: number, totalBlocks: number, pools: Pools): LendingPiece {
  let started = false;
  return {
    index: plan.index,
    length: plan.length,
    dataBytes: plan.dataBytes,
    startBlock: plan.startBlock,
    endBlock: plan.endBlock,
    chunkCount: plan.chunkCount,
    bytes(signal?: AbortSignal): AsyncIterable<Uint8Array> {
      if (started) throw new FlashError('internal', `sparse piece ${plan.index + 1} can be read only once`);
      started = true;
      return pieceBytes(plan, store, bs, totalBlocks, pools, signal);
    },
    release(slice: Uint8Array): void {
      pools.slices.release(slice);
      pools.stages.release(slice);
    },
  };
}

async function* pieceBytes(
  plan: PiecePlan,
  store: PieceStore,
  bs: number,
  totalBlocks: number,
  pools: Pools,
  signal?: AbortSignal,
): AsyncGenerator<Uint8Array> {
  // Headers and small chunks are gathered in a staging block; each block goes out as one slice and is reused once
  // released. Data slices of the store go out as they are: no copy.
  let stage: Uint8Array | undefined;
  let fill = 0;
  let sent = 0;
  const room = (): Uint8Array => (stage ??= pools.stages.take());
  const flush = function* (): Generator<Uint8Array> {
    if (stage && fill > 0) {
      const out = stage.subarray(0, fill);
      stage = undefined;
      fill = 0;
      sent += out.length;
      yield out;
    }
  };
  const chunk = function* (type: number, blocks: number, total: number, value?: number): Generator<Uint8Array> {
    if (fill + CHUNK_HEADER_SIZE + 4 > STAGING) yield* flush();
    const at = room();
    writeChunkHeader(at, fill, type, blocks, total);
    fill += CHUNK_HEADER_SIZE;
    if (value !== undefined) {
      new DataView(at.buffer, at.byteOffset + fill, 4).setUint32(0, value, true);
      fill += 4;
    }
  };
  room().set(encodeSparseHeader(bs, totalBlocks, plan.chunkCount), 0);
  fill = 28;
  if (plan.startBlock > 0) yield* chunk(CHUNK_DONT_CARE, plan.startBlock, CHUNK_HEADER_SIZE);
  for (const e of plan.entries) {
    signal?.throwIfAborted();
    if (e.kind === 'fill') yield* chunk(CHUNK_FILL, e.blocks, CHUNK_HEADER_SIZE + 4, e.value);
    else if (e.kind === 'skip') yield* chunk(CHUNK_DONT_CARE, e.blocks, CHUNK_HEADER_SIZE);
    else {
      yield* chunk(CHUNK_RAW, e.blocks, CHUNK_HEADER_SIZE + e.blocks * bs);
      for await (const b of store.read(e.start, e.blocks, signal)) {
        if (b.length < STAGING / 4 && fill + b.length <= STAGING) {
          room().set(b, fill);
          copyMeter.count(b.length);
          fill += b.length;
          pools.slices.release(b); // copied: its buffer is free again
          continue;
        }
        yield* flush();
        sent += b.length;
        yield b;
      }
    }
  }
  if (plan.endBlock < totalBlocks) yield* chunk(CHUNK_DONT_CARE, totalBlocks - plan.endBlock, CHUNK_HEADER_SIZE);
  yield* flush();
  if (sent !== plan.length) {
    throw new FlashError('internal', `sparse piece ${plan.index + 1} came out ${sent} bytes long, planned ${plan.length}`);
  }
}
