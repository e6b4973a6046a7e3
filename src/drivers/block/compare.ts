// A `verify` step on a disk (start_flash `verify: true`, `flash --verify`, a plan's verify step): the disk read back
// with O_DIRECT and compared with the image itself, chunk by chunk; ranges the image leaves unmapped are not checked.
import type { BlockIo } from '../../contracts/links.js';
import type { BlockSource, Chunk } from '../../contracts/source.js';
import { FlashError } from '../../contracts/errors.js';
import { fillPattern, WRITE_BYTES } from './write.js';

export interface CompareOptions {
  signal?: AbortSignal;
  /** Called as the image is covered: bytes of the image passed so far, and its size. */
  progress?: (done: number, total: number) => void;
  /** Pause point between reads. */
  gate?: () => Promise<void>;
}

/** Throws `verify_mismatch` naming the first byte where the disk differs from the image. */
export async function compareWithImage(io: BlockIo, source: BlockSource, o: CompareOptions = {}): Promise<void> {
  if (source.size > io.size) {
    throw new FlashError('verify_mismatch', `${io.path} (${io.size} bytes) is smaller than the image (${source.size} bytes): it cannot hold it`);
  }
  const sector = io.sectorSize;
  const disk = io.alloc(WRITE_BYTES + 2 * sector);
  const want = Buffer.alloc(WRITE_BYTES);
  for await (const c of source.chunks(o.signal)) {
    if (c.kind !== 'skip') await compareChunk(io, c, disk, want, sector, o);
    o.progress?.(c.offset + (c.kind === 'data' ? c.bytes.length : c.length), source.size);
  }
}

async function compareChunk(io: BlockIo, c: Exclude<Chunk, { kind: 'skip' }>, disk: Uint8Array, want: Buffer, sector: number, o: CompareOptions): Promise<void> {
  const length = c.kind === 'data' ? c.bytes.length : c.length;
  for (let pos = c.offset; pos < c.offset + length;) {
    if (o.gate) await o.gate();
    o.signal?.throwIfAborted();
    const n = Math.min(WRITE_BYTES, c.offset + length - pos);
    // Direct I/O reads whole sectors: read the sectors around [pos, pos + n) and compare the part that matters.
    const from = Math.floor(pos / sector) * sector;
    const to = Math.ceil((pos + n) / sector) * sector;
    const got = await io.read(from, disk.subarray(0, to - from), o.signal);
    const onDisk = Buffer.from(disk.buffer, disk.byteOffset + (pos - from), Math.max(0, Math.min(n, got - (pos - from))));
    let expected: Uint8Array;
    if (c.kind === 'data') expected = c.bytes.subarray(pos - c.offset, pos - c.offset + n);
    else {
      fillPattern(want, 0, n, c.value, c.offset, pos);
      expected = want.subarray(0, n);
    }
    if (onDisk.length < n || !onDisk.equals(expected)) {
      let i = 0;
      while (i < onDisk.length && onDisk[i] === expected[i]) i++;
      const at = pos + i;
      throw new FlashError('verify_mismatch',
        i >= onDisk.length && onDisk.length < n
          ? `${io.path} returned fewer bytes than asked at byte ${at} when read back: the disk is smaller than it says (a fake-capacity card?)`
          : `${io.path} does not hold the image at byte ${at}: the card may be failing or fake — flash it again, or try another card`,
        { detail: `byte offset ${at}` });
    }
    pos += n;
  }
}
