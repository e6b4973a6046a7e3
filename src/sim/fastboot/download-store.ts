// The device's download buffer, kept in a file beside the partitions (DIR/.download) rather than in process memory:
// eight simulators with 256 MiB limits would otherwise hold 2 GiB, and fresh user memory is slow to fault in on
// virtual machines, while the page cache is not. Reads go through a reused window, so memory stays bounded.
import { open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

const WINDOW = 4 * 1024 * 1024;
const BLOCK = 1024 * 1024;
const MAX_BLOCKS = 32;

/**
 * Staging blocks for incoming bytes, allocated once and reused: a transfer is accepted as soon as its bytes are
 * copied here, and the file write runs behind it. (Fresh allocations of this size are mapped anew each time, and
 * page faults are slow on virtual machines.)
 */
class BlockPool {
  readonly #free: Buffer[] = [];
  readonly #waiters: Array<() => void> = [];
  #count = 0;

  async take(): Promise<Buffer> {
    for (;;) {
      const b = this.#free.pop();
      if (b) return b;
      if (this.#count < MAX_BLOCKS) {
        this.#count++;
        return Buffer.allocUnsafeSlow(BLOCK);
      }
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }

  give(b: Buffer): void {
    this.#free.push(b);
    this.#waiters.shift()?.();
  }
}

/** Random access to bytes (a downloaded image, or an in-memory buffer in tests). */
export interface ByteReader {
  readonly size: number;
  /** `length` bytes at `offset`; the result may be reused by the next call. */
  read(offset: number, length: number): Promise<Uint8Array>;
}

export function bufferReader(buf: Uint8Array): ByteReader {
  return { size: buf.length, read: async (offset, length) => buf.subarray(offset, offset + length) };
}

export class DownloadStore {
  readonly path: string;
  #handle: FileHandle | undefined;
  #window = Buffer.alloc(0);
  #windowAt = -1;
  #windowLen = 0;
  /** Size of the last complete download; undefined when there is none. */
  size: number | undefined;
  readonly #pool = new BlockPool();
  readonly #pending = new Set<Promise<void>>();
  #failure: unknown;

  constructor(dir: string) {
    this.path = join(dir, '.download');
  }

  async #file(): Promise<FileHandle> {
    this.#handle ??= await open(this.path, 'w+');
    return this.#handle;
  }

  /** Start a new download: the previous one is gone. */
  async begin(): Promise<void> {
    this.size = undefined;
    this.#windowAt = -1;
    await this.flush().catch(() => undefined);
    await (await this.#file()).truncate(0);
  }

  /**
   * Take bytes for `offset`: resolves once they are copied into a staging block (the caller may then reuse `data`);
   * the file write continues behind. `flush()` waits for all of them.
   */
  async stage(offset: number, data: Uint8Array): Promise<void> {
    const fh = await this.#file();
    for (let off = 0; off < data.length; off += BLOCK) {
      const n = Math.min(BLOCK, data.length - off);
      const block = await this.#pool.take();
      block.set(data.subarray(off, off + n));
      const w = this.#writeAll(fh, block, n, offset + off).finally(() => {
        this.#pool.give(block);
        this.#pending.delete(w);
      });
      w.catch((e: unknown) => {
        this.#failure ??= e;
      });
      this.#pending.add(w);
    }
  }

  async #writeAll(fh: FileHandle, block: Buffer, n: number, position: number): Promise<void> {
    let done = 0;
    while (done < n) {
      const { bytesWritten } = await fh.write(block, done, n - done, position + done);
      done += bytesWritten;
    }
  }

  /** Wait until every staged byte is in the file; throws the first write error. */
  async flush(): Promise<void> {
    while (this.#pending.size) await Promise.allSettled([...this.#pending]);
    const e = this.#failure;
    this.#failure = undefined;
    if (e) throw e;
  }

  /** A reader over the complete download, sharing one bounded window buffer. */
  reader(): ByteReader {
    const size = this.size ?? 0;
    return { size, read: (offset, length) => this.#read(offset, Math.min(length, size - offset)) };
  }

  async #read(offset: number, length: number): Promise<Uint8Array> {
    if (length <= 0) return new Uint8Array(0);
    if (this.#windowAt >= 0 && offset >= this.#windowAt && offset + length <= this.#windowAt + this.#windowLen) {
      return this.#window.subarray(offset - this.#windowAt, offset - this.#windowAt + length);
    }
    const fh = await this.#file();
    const want = Math.max(length, Math.min(WINDOW, (this.size ?? 0) - offset));
    if (this.#window.length < want) this.#window = Buffer.allocUnsafe(Math.max(want, WINDOW));
    let got = 0;
    while (got < want) {
      const { bytesRead } = await fh.read(this.#window, got, want - got, offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    this.#windowAt = offset;
    this.#windowLen = got;
    return this.#window.subarray(0, Math.min(length, got));
  }

  /** The whole download in memory (tests and small images only). */
  async readAll(): Promise<Buffer | undefined> {
    if (this.size === undefined) return undefined;
    const out = Buffer.alloc(this.size);
    const fh = await this.#file();
    await fh.read(out, 0, this.size, 0);
    return out;
  }

  /** Forget the download (reboot: RAM is lost). */
  async clear(): Promise<void> {
    this.size = undefined;
    this.#windowAt = -1;
    await this.flush().catch(() => undefined);
    if (this.#handle) await this.#handle.truncate(0);
  }

  async close(): Promise<void> {
    await this.flush().catch(() => undefined);
    const fh = this.#handle;
    this.#handle = undefined;
    this.size = undefined;
    if (fh) await fh.close().catch(() => undefined);
    await rm(this.path, { force: true });
  }
}
