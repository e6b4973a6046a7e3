// The simulated SPI flash: an in-memory image persisted to DIR/flash.bin (byte 0 = flash address 0), erased = 0xFF.
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

export const SECTOR = 0x1000;

export class FlashStore {
  private constructor(
    readonly path: string,
    readonly bytes: Uint8Array,
    private readonly file: FileHandle,
  ) {}

  get size(): number {
    return this.bytes.length;
  }

  /** Open (or create, erased) `DIR/flash.bin` of `size` bytes; a file of another size is resized, keeping its start. */
  static async open(dir: string, size: number): Promise<FlashStore> {
    await mkdir(dir, { recursive: true });
    const path = join(dir, 'flash.bin');
    const file = await open(path, 'a+').then(async (f) => {
      await f.close();
      return open(path, 'r+');
    });
    try {
      const bytes = new Uint8Array(size).fill(0xff);
      const { size: have } = await file.stat();
      if (have > 0) await file.read(bytes, 0, Math.min(have, size), 0);
      if (have !== size) {
        await file.truncate(0);
        await file.write(bytes, 0, size, 0);
      }
      return new FlashStore(path, bytes, file);
    } catch (e) {
      await file.close().catch(() => undefined); // (not left to garbage collection)
      throw e;
    }
  }

  /** Write `data` at `offset` (clipped to the flash end, as the address wraps off the chip). */
  async write(offset: number, data: Uint8Array): Promise<void> {
    const n = Math.max(0, Math.min(data.length, this.size - offset));
    if (n === 0) return;
    // NOR flash can only clear bits; an erased sector takes the data as it is.
    const dst = this.bytes.subarray(offset, offset + n);
    for (let i = 0; i < n; i++) dst[i] = (dst[i] ?? 0xff) & (data[i] ?? 0xff);
    await this.file.write(dst, 0, n, offset);
  }

  /** Erase [offset, offset + length) rounded out to whole sectors. */
  async erase(offset: number, length: number): Promise<void> {
    const start = Math.floor(offset / SECTOR) * SECTOR;
    const end = Math.min(this.size, Math.ceil((offset + length) / SECTOR) * SECTOR);
    if (end <= start) return;
    this.bytes.fill(0xff, start, end);
    await this.file.write(this.bytes, start, end - start, start);
  }

  read(offset: number, length: number): Uint8Array {
    return this.bytes.subarray(offset, Math.min(this.size, offset + length));
  }

  async close(): Promise<void> {
    await this.file.close().catch(() => undefined);
  }
}
