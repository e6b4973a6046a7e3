// The simulated part's flash: DIR/flash.bin (byte 0 = 0x08000000 on DfuSe), erased to 0xFF, NOR rules (a write can only
// clear bits), kept in memory and written through to the file block by block.
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export class FlashStore {
  readonly size: number;
  readonly path: string;
  readonly bytes: Uint8Array;
  #fd: number | undefined;

  constructor(dir: string, size: number) {
    mkdirSync(dir, { recursive: true });
    this.size = size;
    this.path = join(dir, 'flash.bin');
    this.bytes = new Uint8Array(size).fill(0xff);
    const fresh = !existsSync(this.path);
    this.#fd = openSync(this.path, fresh ? 'w+' : 'r+');
    const have = fresh ? 0 : fstatSync(this.#fd).size;
    if (have > 0) readSync(this.#fd, this.bytes, 0, Math.min(have, size), 0);
    if (have !== size) writeSync(this.#fd, this.bytes, 0, size, 0);
  }

  read(offset: number, length: number): Uint8Array {
    return this.bytes.slice(offset, offset + length);
  }

  /** Programs `data` at `offset` as NOR flash does (old AND new); false when a bit would have to go from 0 to 1. */
  program(offset: number, data: Uint8Array): boolean {
    let ok = true;
    for (let i = 0; i < data.length; i++) {
      const v = this.bytes[offset + i]! & data[i]!;
      if (v !== data[i]) ok = false;
      this.bytes[offset + i] = v;
    }
    this.#flush(offset, data.length);
    return ok;
  }

  /** Overwrites (a device whose bootloader erases as it writes, like u-boot's raw DFU). */
  overwrite(offset: number, data: Uint8Array): void {
    this.bytes.set(data, offset);
    this.#flush(offset, data.length);
  }

  erase(offset: number, length: number): void {
    this.bytes.fill(0xff, offset, offset + length);
    this.#flush(offset, length);
  }

  #flush(offset: number, length: number): void {
    if (this.#fd !== undefined && length > 0) writeSync(this.#fd, this.bytes, offset, length, offset);
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}
