// Decode once, write many: one BlockSource read by several consumers through a bounded buffer.
import type { BlockSource } from '../core/types.js';
import { FlashError } from '../core/errors.js';
import type { SharedBlockSource } from './types.js';

/** `consumers` views of `source` that advance together at the slowest consumer's pace. */
export function shareSource(source: BlockSource, consumers: number): SharedBlockSource[] {
  void source;
  throw new FlashError('internal', `shareSource(${consumers}) is being implemented`);
}
