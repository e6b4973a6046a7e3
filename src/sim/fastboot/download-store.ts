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
  /** The file, opened once for all callers (concurrent ones share the open in flight); close() waits for it. */
  #opening: Promise<FileHandle> | undefined;
  #closed = false;
  #window = Buffer.alloc(0);
  #windowAt = -1;
  #windowLen = 0;
  /** Size of the last complete download; undefined when there is none. */
  size: number | undefined;
  readonly #pool = new BlockPool();
  readonly #pending = new Set<Promise<void>>();
  #failure: Error | undefined;
  /** The staging block being filled: socket reads arrive in 64 KiB pieces, and one file write per MiB (rather than
   *  per piece) keeps thread-pool hand-offs — each a futex wake on both sides — 16 times fewer. */
  #cur: Buffer | undefined;
  #curAt = 0;
  #curFill = 0;
  /** `stage` calls run one after another (several USB transfers may be in flight at once). */
  #tail: Promise<void> = Promise.resolve();

  constructor(dir: string) {
    this.path = join(dir, '.download');
  }

  #file(): Promise<FileHandle> {
    if (this.#closed) return Promise.reject(new Error('the download store is closed'));
    this.#opening ??= open(this.path, 'w+').catch((e: unknown) => {
      this.#opening = undefined;
      throw e;
    });
    return this.#opening;
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
   * the file write of each full block continues behind. `flush()` writes the last, partial block and waits for all.
   */
  stage(offset: number, data: Uint8Array): Promise<void> {
    const run = this.#tail.then(() => this.#stage(offset, data));
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async #stage(offset: number, data: Uint8Array): Promise<void> {
    if (this.#cur && offset !== this.#curAt + this.#curFill) await this.#submit();
    let off = 0;
    while (off < data.length) {
      if (!this.#cur) {
        this.#cur = await this.#pool.take();
        this.#curAt = offset + off;
        this.#curFill = 0;
      }
      const n = Math.min(BLOCK - this.#curFill, data.length - off);
      this.#cur.set(data.subarray(off, off + n), this.#curFill);
      this.#curFill += n;
      off += n;
      if (this.#curFill === BLOCK) await this.#submit();
    }
  }

  /** Start the file write of the current staging block. */
  async #submit(): Promise<void> {
    const block = this.#cur;
    if (!block) return;
    const n = this.#curFill;
    const at = this.#curAt;
    this.#cur = undefined;
    this.#curFill = 0;
    if (n === 0) {
      this.#pool.give(block);
      return;
    }
    const fh = await this.#file();
    const w = this.#writeAll(fh, block, n, at).finally(() => {
      this.#pool.give(block);
      this.#pending.delete(w);
    });
    w.catch((e: unknown) => {
      this.#failure ??= e instanceof Error ? e : new Error(String(e));
    });
    this.#pending.add(w);
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
    await this.#tail;
    await this.#submit();
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
    if (this.#opening) await (await this.#opening).truncate(0);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.flush().catch(() => undefined);
    const opening = this.#opening;
    this.#opening = undefined;
    this.size = undefined;
    const fh = await opening?.catch(() => undefined);
    if (fh) await fh.close().catch(() => undefined);
    await rm(this.path, { force: true });
  }
}
