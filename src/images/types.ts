// Public types of the image pipeline: sparse pieces for drivers, loaded plans for the core, open options.
import type { BlockSource } from '../contracts/source.js';
import type { ImagePrepareProgress } from '../contracts/plan.js';
import type { SpoolFile } from './spool.js';

/** Options of `openImage`. */
export interface OpenImageOptions {
  /** Abandon opening (and structure validation) early. */
  signal?: AbortSignal;
  /**
   * A bmaptool `.bmap` file for a raw image: ranges it leaves out become `skip` chunks. Without it, `<image>.bmap`
   * (or the name without its compression suffix + `.bmap`) beside the image is used when present.
   */
  bmapPath?: string;
  /** Compute the SHA-256 of the expanded image while streaming (default true). */
  hash?: boolean;
  /**
   * Where a compressed raw image whose expanded size is not known cheaply (bzip2; gzip past what ISIZE can say; zstd
   * frames without a content size) is decoded once, proving it whole and giving its size and hash, instead of being
   * decoded once to count and again to flash (spool.ts). Without it, such an image is decoded to count its bytes.
   */
  spool?: SpoolFile;
  /** Progress of that decode, with what it does and why (for a job's stage and log). */
  onPrepare?: (p: ImagePrepareProgress) => void;
  /** The spool refuses to grow past this (the largest target the image may go to). */
  spoolMaxBytes?: number;
  /** Free space the spool leaves on its disk (default 256 MiB). */
  spoolReserveBytes?: number;
  /**
   * Only the cheap checks (headers, tables, indexes, the first block of a stream): an image that needs a long pass
   * before it can be written rejects with `PreparationNeeded` instead of decoding (see checkImage in prepare.ts).
   */
  defer?: boolean;
}

/**
 * One Android sparse file of a resparsed image, as a driver sends it: a download of `length` bytes, then the
 * bytes, then `flash:P`. Every piece keeps the image's `total_blks`, padding with DONT_CARE before and after its own
 * blocks; together the pieces reproduce the image.
 *
 * Pieces must be consumed in order: read a piece's `bytes()` to the end before asking `resparse` for the next piece
 * (asking earlier abandons the unread piece and fails its stream).
 */
export interface SparsePiece {
  /** 0-based position of this piece. */
  readonly index: number;
  /** Exact byte length of this sparse file, headers included. Known before any byte streams. */
  readonly length: number;
  /** Bytes of this piece that are image data (RAW chunk payloads), for progress. */
  readonly dataBytes: number;
  /** First block this piece writes (blocks before it are DONT_CARE here). */
  readonly startBlock: number;
  /** Block after the last one this piece writes (blocks from it on are DONT_CARE here). */
  readonly endBlock: number;
  /** Number of chunks in this sparse file (its header's total_chunks). */
  readonly chunkCount: number;
  /**
   * The piece's bytes, once, as slices of at most `PIECE_SLICE_BYTES` (or resparse's `sliceBytes`); their lengths add
   * up to `length`.
   * Fails with FlashError `image_invalid` / `image_unreadable` when the image turns out broken mid-stream.
   */
  bytes(signal?: AbortSignal): AsyncIterable<Uint8Array>;
}

export type { PlanImage, LoadedStep, LoadedPlan } from '../contracts/plan.js';

/** What a decode-once-write-many consumer gets: a source, plus a way to leave without reading. */
export interface SharedBlockSource extends BlockSource {
  /** This consumer will not read (any more): the others stop waiting for it. Idempotent. */
  release(): void;
}

/** Largest slice a piece's `bytes()` yields. */
export const PIECE_SLICE_BYTES = 1 << 20;
