// The image pipeline functions the core uses, gathered so a Station can be given another implementation in tests.
import { loadPlan, openImage, shareSource } from '../images/index.js';
import type { LoadedPlan, OpenImageOptions, SharedBlockSource } from '../images/index.js';
import type { PlanInput } from '../protocol/messages.js';
import type { BlockSource } from '../contracts/source.js';

export interface ImageBackend {
  openImage(path: string, options?: OpenImageOptions): Promise<BlockSource>;
  loadPlan(input: string | PlanInput): Promise<LoadedPlan>;
  shareSource(source: BlockSource, consumers: number): SharedBlockSource[];
}

export const defaultImageBackend: ImageBackend = { openImage, loadPlan, shareSource };
