// Common BlockSource machinery: single-use guard, SHA-256 of the expanded image on the way, refined data counts.
import { createHash, type Hash } from 'node:crypto';
import type { BlockSource, Chunk } from '../contracts/source.js';
import { FlashError, toFlashError } from '../contracts/errors.js';

const PATTERN_BYTES = 256 << 10;
let zeros: Uint8Array | null = null;

/** Feed `length` bytes of a repeated 32-bit little-endian word to `h`. */
export function hashPattern(h: Hash, value: number, length: number): void {
  let block: Uint8Array;
  if (value === 0) {
    zeros ??= new Uint8Array(PATTERN_BYTES);
    block = zeros;
  } else {
    block = new Uint8Array(PATTERN_BYTES);
    new Uint32Array(block.buffer).fill(value >>> 0);
    if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
      new DataView(block.buffer).setUint32(0, value, true); // big-endian hosts: not expected; keep LE semantics
      for (let i = 4; i < block.length; i += 4) block.copyWithin(i, 0, 4);
    }
  }
  let left = length;
  while (left > 0) {
    const n = Math.min(left, block.length);
    h.update(n === block.length ? block : block.subarray(0, n));
    left -= n;
  }
}

export interface SourceInit {
  size: number;
  blockSize: number;
  description: string;
  reopenable: boolean;
  dataBytes: number;
  exact: boolean;
  hash: boolean;
  /**
   * Compute the hash elsewhere (a worker reading the file) instead of from the chunks. It starts when `sha256()` is
   * first asked for — after the transfer, in a station job — not beside the stream: on a machine whose cores the
   * transfer and the device already keep busy, a concurrent 1 GiB hash slowed the transfer itself (docs/benchmarks.md).
   */
  offload?: () => Promise<string>;
  /** Rejects with `image_mismatch` when the file behind the image changed since it was opened. */
  unchanged?: () => Promise<void>;
}

/**
 * Base of every BlockSource here. Subclasses implement `produce()`; `chunks()` adds the hash and the single-use rule.
 * Skipped ranges hash as zeros (as `simg2img` expands them).
 */
export abstract class HashedSource implements BlockSource {
  readonly size: number;
  readonly blockSize: number;
  readonly description: string;
  readonly reopenable: boolean;
  protected data: number;
  protected isExact: boolean;
  private readonly hashing: boolean;
  private readonly offload: (() => Promise<string>) | undefined;
  private readonly checkUnchanged: (() => Promise<void>) | undefined;
  private started = false;
  private digest: { promise: Promise<string>; resolve: (v: string) => void; reject: (e: unknown) => void };
  private done = false;

  constructor(init: SourceInit) {
    this.size = init.size;
    this.blockSize = init.blockSize;
    this.description = init.description;
    this.reopenable = init.reopenable;
    this.data = init.dataBytes;
    this.isExact = init.exact;
    this.hashing = init.hash;
    this.offload = init.offload;
    this.checkUnchanged = init.unchanged;
    this.digest = deferred();
  }

  get dataBytes(): number {
    return this.data;
  }
  get exact(): boolean {
    return this.isExact;
  }

  /** The chunks; with `lent`, data bytes may be views of buffers reused once the consumer asks for the next chunk. */
  protected abstract produce(signal: AbortSignal | undefined, lent: boolean): AsyncIterable<Chunk>;

  chunks(signal?: AbortSignal): AsyncIterable<Chunk> {
    return this.start(signal, false);
  }

  /**
   * Like `chunks()`, but a data chunk's bytes are valid only until the next chunk is asked for (no copy out of the
   * decoder's reused buffers). For consumers that copy or write out what they keep at once (resparse's piece store).
   */
  lentChunks(signal?: AbortSignal): AsyncIterable<Chunk> {
    return this.start(signal, true);
  }

  private start(signal: AbortSignal | undefined, lent: boolean): AsyncIterable<Chunk> {
    if (this.started && !this.reopenable) {
      throw new FlashError('internal', `${this.description} can be read only once`);
    }
    this.started = true;
    return this.run(signal, lent);
  }

  /**
   * Settles without further reads: no hash, a finished pass, or an offloaded hash (which starts when asked for). So a
   * read need not go through `chunks()` for the hash.
   */
  get hashStarted(): boolean {
    return !this.hashing || this.done || this.offload !== undefined;
  }

  /** Start the offloaded hash (once); `sha256()` does, when first asked. */
  private startOffloadedHash(): void {
    if (this.hashing && !this.done && this.offload) {
      // The worker reads the file itself: its result does not depend on how far (or whether) the stream got.
      this.done = true;
      const d = this.digest;
      const offload = this.offload;
      // The file must still be the one flashed, before the worker reads it and after: else the hash is of other bytes.
      (async () => {
        await this.unchanged();
        const hex = await offload();
        await this.unchanged();
        return hex;
      })().then(d.resolve, (e: unknown) => d.reject(toFlashError(e, 'image_unreadable')));
    }
  }

  private async *run(signal: AbortSignal | undefined, lent: boolean): AsyncGenerator<Chunk> {
    const h = this.hashing && !this.done && !this.offload ? createHash('sha256') : null;
    let pos = 0;
    try {
      for await (const c of this.produce(signal, lent)) {
        if (c.offset !== pos) throw new FlashError('internal', `${this.description}: chunk at ${c.offset}, expected ${pos}`);
        if (h) {
          if (c.kind === 'data') h.update(c.bytes);
          else hashPattern(h, c.kind === 'fill' ? c.value : 0, c.length);
        }
        pos += c.kind === 'data' ? c.bytes.length : c.length;
        yield c;
      }
      if (pos !== this.size) {
        throw new FlashError('image_invalid', `${this.description} ended after ${pos} of ${this.size} bytes: it is truncated`);
      }
      if (h && !this.done) {
        this.done = true;
        this.digest.resolve(h.digest('hex'));
      }
    } catch (e) {
      let err = signal?.aborted ? new FlashError('cancelled', 'Cancelled') : toFlashError(e, 'image_unreadable');
      // A decoder that broke because its file was overwritten mid-read: say that, not "invalid data".
      if (!signal?.aborted && err.code !== 'image_mismatch') err = await this.unchanged().then(() => err, (m: unknown) => toFlashError(m, 'image_mismatch'));
      if (!this.done && !this.offload) {
        this.digest.reject(err);
        this.digest = deferred();
      }
      throw err;
    }
  }

  unchanged(): Promise<void> {
    return this.checkUnchanged ? this.checkUnchanged() : Promise.resolve();
  }

  sha256(): Promise<string> {
    if (!this.hashing) return Promise.reject(new FlashError('internal', `${this.description} was opened without hashing`));
    this.startOffloadedHash();
    return this.digest.promise;
  }
}

function deferred(): { promise: Promise<string>; resolve: (v: string) => void; reject: (e: unknown) => void } {
  let resolve!: (v: string) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<string>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}
