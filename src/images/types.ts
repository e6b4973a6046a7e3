// Public types of the image pipeline: sparse pieces for drivers, loaded plans for the core, open options.
import type { BlockSource } from '../contracts/source.js';
import type { PlanStep } from '../core/types.js';

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
}

/**
 * One Android sparse file of a resparsed image, as a fastboot driver sends it: `download:%08x` with `length`, then the
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
   * The piece's bytes, once, as slices of at most `PIECE_SLICE_BYTES`; their lengths add up to `length`.
   * Fails with FlashError `image_invalid` / `image_unreadable` when the image turns out broken mid-stream.
   */
  bytes(signal?: AbortSignal): AsyncIterable<Uint8Array>;
}

/** An image a plan step refers to, opened only when the step runs (once per step). */
export interface PlanImage {
  /** What the manifest called it (a path relative to the bundle, or an entry name in a zip). */
  readonly name: string;
  /** Where it lives, for logs: `/abs/bundle/boot.img`, `factory.zip!image-x.zip!boot.img`. */
  readonly location: string;
  /** Declared expanded size when known cheaply (zip entry size, file size of a raw image), else undefined. */
  readonly declaredSize?: number;
  open(options?: { signal?: AbortSignal }): Promise<BlockSource>;
}

/** A plan step before its image is opened. Every other op is already final (`PlanStep` of core/types.ts). */
export type LoadedStep =
  | { op: 'flash'; partition: string; image: PlanImage; slot?: 'a' | 'b' | 'all' | 'current' | 'other' }
  | { op: 'verify'; partition: string; image: PlanImage }
  | Exclude<PlanStep, { op: 'flash' } | { op: 'verify' }>;

/** A `require` line of a factory image's android-info.txt, e.g. `require board=sailfish|marlin`. */
export interface Requirement {
  /** The device variable to check: `product` for `board`, else the name as written (`version-bootloader`, …). */
  name: string;
  /** Accepted values (any one matches). */
  values: string[];
  /** `require-for-product:X` lines apply only when the device's product is X. */
  forProduct?: string;
}

/** A plan ready to run: steps in order, images opened lazily. */
export interface LoadedPlan {
  /** Human name: the manifest's `name`, the factory zip's name, or `inline plan`. */
  readonly name: string;
  /** Where the plan came from (absolute path) or `inline`. */
  readonly origin: string;
  /** Steps in order; factory images start with their `require` steps, before anything is written. */
  readonly steps: LoadedStep[];
  /** android-info.txt requirements (also present as leading `require` steps). */
  readonly requirements: Requirement[];
  /** Sum of the images' declared sizes where known (for a first progress estimate). */
  readonly declaredBytes: number;
  /** Release what the plan holds (temporary files of nested zips). Safe to call twice. */
  close(): Promise<void>;
}

/** What a decode-once-write-many consumer gets: a source, plus a way to leave without reading. */
export interface SharedBlockSource extends BlockSource {
  /** This consumer will not read (any more): the others stop waiting for it. Idempotent. */
  release(): void;
}

/** Largest slice a piece's `bytes()` yields. */
export const PIECE_SLICE_BYTES = 1 << 20;

/** Largest super_empty image accepted (liblp metadata: geometry + one copy is at most a few hundred KiB). */
export const SUPER_EMPTY_MAX_BYTES = 4 << 20;
