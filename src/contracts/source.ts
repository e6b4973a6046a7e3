/** An image as a device will hold it: the chunk stream every family writes from (architecture.md, "The seams"). */


/** One piece of an image as the device will hold it. Offsets are in bytes from the start of the partition. */
export type Chunk =
  | { kind: 'data'; offset: number; bytes: Uint8Array }
  /** `length` bytes (a multiple of 4) of one repeated little-endian 32-bit word, zeros included: written, cheaply. */
  | { kind: 'fill'; offset: number; length: number; value: number }
  /** Declared unmapped (sparse DONT_CARE, bmap hole): left as it is on the device. */
  | { kind: 'skip'; offset: number; length: number };

/**
 * An image as the device will hold it: chunks in strictly increasing, contiguous offset order covering [0, size).
 * Streams in bounded memory. `chunks()` may be called more than once only if `reopenable` is true.
 */
export interface BlockSource {
  /** Expanded size in bytes (what the partition will hold). */
  readonly size: number;
  /** Bytes that travel as data (not fills, not skips). Exact when `exact`, else an estimate refined while streaming. */
  readonly dataBytes: number;
  readonly exact: boolean;
  /** Human description, e.g. `system.img (sparse in xz, 2.0 GiB)`. */
  readonly description: string;
  /** Block size the holes and fills are aligned to (4096 unless a sparse image says otherwise). */
  readonly blockSize: number;
  readonly reopenable: boolean;
  chunks(signal?: AbortSignal): AsyncIterable<Chunk>;
  /**
   * Random access to expanded bytes, where the underlying file allows it (raw and uncompressed sparse files).
   * Lets a sparse writer plan a piece from chunk metadata first and stream its data afterwards, in bounded memory.
   */
  readAt?(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array>;
  /** SHA-256 (hex) of the expanded image; resolves once `chunks()` has been read to the end. */
  sha256(): Promise<string>;
  /**
   * True once `sha256()` settles without further reads: the hash is done, runs elsewhere (a worker thread started
   * by the first read), or hashing is off. False while it still waits for `chunks()` to be read to the end.
   */
  readonly hashStarted?: boolean;
  /**
   * Rejects with `image_mismatch` when the file the image is read from changed since it was opened (replaced, resized
   * or written to): the device may then hold a mix of old and new bytes, and a later hash would not be of them.
   */
  unchanged?(): Promise<void>;
}

