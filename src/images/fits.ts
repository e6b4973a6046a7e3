// Refuse an image larger than the partition it is meant for, before anything is written.
import type { BlockSource } from '../contracts/source.js';
import { FlashError } from '../contracts/errors.js';
import { formatBytes } from '../protocol/units.js';

/** Throws FlashError `image_too_large` when `source` does not fit in a partition of `partitionSize` bytes. */
export function checkFits(source: Pick<BlockSource, 'size' | 'description'>, partitionSize: number, partition = 'the partition'): void {
  if (source.size > partitionSize) {
    throw new FlashError(
      'image_too_large',
      `${source.description} expands to ${formatBytes(source.size)} (${source.size} bytes) but ${partition} holds only ` +
        `${formatBytes(partitionSize)} (${partitionSize} bytes): choose the image built for this device or partition`,
    );
  }
}
