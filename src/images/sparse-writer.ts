// Write a whole BlockSource as one Android sparse file (img2simg's job), streamed.
import type { BlockSource } from '../contracts/source.js';
import { resparse, type ResparseOptions } from './resparse.js';

/**
 * The sparse file of `source` as slices. Its length is known only with `readAt` sources before streaming starts;
 * other sources are kept whole while planning (in memory up to `memoryLimit`, the rest in a temporary file).
 */
export async function* writeSparse(source: BlockSource, options: ResparseOptions = {}): AsyncGenerator<Uint8Array> {
  for await (const piece of resparse(source, Number.POSITIVE_INFINITY, options)) {
    yield* piece.bytes(options.signal);
  }
}
