// openImage: sniff an image file by magic bytes and return it as a validated BlockSource.
import type { BlockSource } from '../core/types.js';
import { FlashError } from '../core/errors.js';
import type { OpenImageOptions } from './types.js';

/** Open `path` (raw, sparse, gzip, xz, zstd, bzip2, zip, nested) as a BlockSource; validates its structure first. */
export async function openImage(path: string, options: OpenImageOptions = {}): Promise<BlockSource> {
  void options;
  throw new FlashError('internal', `openImage(${path}) is being implemented`);
}
