// Reused read buffers for the bytes that stream to a device, and a meter of the bytes copied on the way.
//
// A fresh 1 MiB Buffer is memory the kernel has to fault in page by page (256 faults per MiB, slow on a VM) and that
// the garbage collector has to find again; a host that reads into the same few buffers pays neither (AOSP does).
// A buffer goes back to its pool only when whoever holds it says it is done with it (`release`): for a download
// slice that is the transport, once the bytes have left (handed to the OS, or the USB transfer ended). A slice that is
// never released is simply never reused, so a consumer that keeps slices stays correct; it only costs fresh buffers.

/** Counters of one pool, for tests and diagnostics. */
export interface PoolStats {
  /** Buffers created (each one fresh memory to fault in). */
  allocated: number;
  /** Buffers handed out. */
  taken: number;
  /** Buffers given back. */
  released: number;
}

export class BufferPool {
  private readonly free: Buffer[] = [];
  /** Buffers handed out and not yet given back, by their memory. */
  private readonly out = new Map<ArrayBufferLike, Buffer>();
  readonly stats: PoolStats = { allocated: 0, taken: 0, released: 0 };

  /**
   * @param bufferBytes size of every buffer
   * @param keep free buffers kept for reuse at most (more given back are left to the garbage collector)
   */
  constructor(
    readonly bufferBytes: number,
    private readonly keep = 8,
  ) {
    if (!Number.isSafeInteger(bufferBytes) || bufferBytes <= 0) throw new RangeError(`buffer size ${bufferBytes} is invalid`);
  }

  /** A buffer of `bufferBytes` (contents undefined): a free one, or a fresh one when all are out. */
  take(): Buffer {
    let b = this.free.pop();
    if (!b) {
      // (allocUnsafeSlow: its own memory, never a slice of Node's shared pool, so it can be told apart on release)
      b = Buffer.allocUnsafeSlow(this.bufferBytes);
      this.stats.allocated++;
      poolMeter.allocations++;
      poolMeter.bytes += this.bufferBytes;
    }
    this.out.set(b.buffer, b);
    this.stats.taken++;
    return b;
  }

  /**
   * Give back the buffer `bytes` is a view of, once nothing refers to it any more. Views of memory this pool did not
   * hand out (or already has back) are ignored, so a caller may release every slice it was given.
   */
  release(bytes: Uint8Array): void {
    const b = this.out.get(bytes.buffer);
    if (!b) return;
    this.out.delete(bytes.buffer);
    this.stats.released++;
    if (this.free.length < this.keep) this.free.push(b);
  }

  /** Buffers handed out and not given back. */
  get outstanding(): number {
    return this.out.size;
  }
}

/** Buffers all pools of this process have created (fresh memory), for the regression tests; reset by them. */
export const poolMeter = {
  allocations: 0,
  bytes: 0,
  reset(): void {
    this.allocations = 0;
    this.bytes = 0;
  },
};

/**
 * Bytes of image data copied in memory on their way from the file to the device (not the reads themselves, not the
 * sparse headers written into a piece): the instrumentation hook the regression tests read. Process-wide; reset by
 * the tests.
 */
export const copyMeter = {
  copies: 0,
  bytes: 0,
  count(n: number): void {
    this.copies++;
    this.bytes += n;
  },
  reset(): void {
    this.copies = 0;
    this.bytes = 0;
  },
};
