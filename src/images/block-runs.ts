// Turn a BlockSource's byte-addressed chunks into block-aligned runs (what a sparse file can express).
import type { Chunk } from '../contracts/source.js';
import { FlashError } from '../contracts/errors.js';

/** A block-aligned run. Data runs carry exactly `blocks * blockSize` bytes (the image's last block zero-padded). */
export type BlockRun =
  | { kind: 'data'; start: number; blocks: number; bytes: Uint8Array }
  | { kind: 'fill'; start: number; blocks: number; value: number }
  | { kind: 'skip'; start: number; blocks: number };

/** The 32-bit little-endian word of a fill that starts `shift` bytes into its repeating pattern. */
export function rotateFill(value: number, shift: number): number {
  const s = ((shift % 4) + 4) % 4;
  if (s === 0) return value >>> 0;
  return ((value >>> (8 * s)) | (value << (32 - 8 * s))) >>> 0;
}

function writePattern(out: Uint8Array, at: number, len: number, value: number, shift: number): void {
  for (let i = 0; i < len; i++) out[at + i] = (value >>> (8 * ((shift + i) % 4))) & 0xff;
}

/**
 * Block runs of `chunks`, in order. Chunk edges that do not fall on block boundaries are resolved by turning the
 * straddling block into data (fill bytes expanded, skipped bytes as zeros); the last partial block is zero-padded.
 * Checks that chunks are contiguous and cover exactly [0, size).
 */
export async function* toBlockRuns(chunks: AsyncIterable<Chunk>, blockSize: number, size: number): AsyncGenerator<BlockRun> {
  let pos = 0; // bytes consumed
  let partial: Uint8Array | null = null; // the block being assembled
  let partialFill = 0;
  for await (const c of chunks) {
    if (c.offset !== pos) {
      throw new FlashError('internal', `image chunks are not contiguous: expected offset ${pos}, got ${c.offset}`);
    }
    const len = c.kind === 'data' ? c.bytes.length : c.length;
    if (len === 0) continue;
    let used = 0;
    if (partial !== null || pos % blockSize !== 0) {
      if (partial === null) throw new FlashError('internal', 'block assembly lost its place');
      const take = Math.min(blockSize - partialFill, len);
      if (c.kind === 'data') partial.set(c.bytes.subarray(0, take), partialFill);
      else if (c.kind === 'fill') writePattern(partial, partialFill, take, c.value, 0);
      used = take;
      partialFill += take;
      if (partialFill === blockSize) {
        yield { kind: 'data', start: (pos + take - blockSize) / blockSize, blocks: 1, bytes: partial };
        partial = null;
        partialFill = 0;
      }
    }
    const alignedStart = pos + used;
    const whole = Math.floor((len - used) / blockSize);
    if (whole > 0) {
      const start = alignedStart / blockSize;
      if (c.kind === 'data') yield { kind: 'data', start, blocks: whole, bytes: c.bytes.subarray(used, used + whole * blockSize) };
      else if (c.kind === 'fill') yield { kind: 'fill', start, blocks: whole, value: rotateFill(c.value, used) };
      else yield { kind: 'skip', start, blocks: whole };
    }
    const restAt = used + whole * blockSize;
    if (restAt < len) {
      partial = new Uint8Array(blockSize);
      partialFill = len - restAt;
      if (c.kind === 'data') partial.set(c.bytes.subarray(restAt, len), 0);
      else if (c.kind === 'fill') writePattern(partial, 0, partialFill, c.value, restAt);
    }
    pos += len;
  }
  if (pos !== size) {
    throw new FlashError('image_invalid', `image ended after ${pos} bytes, expected ${size}: it is truncated`);
  }
  if (partial !== null) {
    yield { kind: 'data', start: Math.floor(pos / blockSize), blocks: 1, bytes: partial };
  }
}
