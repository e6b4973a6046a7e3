// The image pipeline functions the core uses, gathered so a Station can be given another implementation in tests.
import { loadPlan, openImage, shareSource } from '../images/index.js';
import type { LoadedPlan, OpenImageOptions, PlanReader, SharedBlockSource } from '../images/index.js';
import type { PlanInput } from '../protocol/messages.js';
import type { BlockSource } from '../contracts/source.js';

export interface ImageBackend {
  openImage(path: string, options?: OpenImageOptions): Promise<BlockSource>;
  /** `readers`: the families' own plan formats (Family.readPlan), tried before the generic manifest. */
  loadPlan(input: string | PlanInput, readers?: readonly PlanReader[]): Promise<LoadedPlan>;
  shareSource(source: BlockSource, consumers: number): SharedBlockSource[];
}

export const defaultImageBackend: ImageBackend = { openImage, loadPlan, shareSource };
