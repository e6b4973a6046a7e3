// The image pipeline functions the core uses, gathered so a Station can be given another implementation in tests.
import { checkImage, loadPlan, openImage, shareSource } from '../images/index.js';
import type { CheckImageOptions, ImageCheck, LoadedPlan, LoadPlanOptions, OpenImageOptions, PlanReader, SharedBlockSource } from '../images/index.js';
import type { PlanInput } from '../protocol/messages.js';
import type { BlockSource } from '../contracts/source.js';

export interface ImageBackend {
  openImage(path: string, options?: OpenImageOptions): Promise<BlockSource>;
  /** `readers`: the families' own plan formats (Family.readPlan), tried before the generic manifest. */
  loadPlan(input: string | PlanInput, readers?: readonly PlanReader[], options?: LoadPlanOptions): Promise<LoadedPlan>;
  shareSource(source: BlockSource, consumers: number): SharedBlockSource[];
  /**
   * The cheap checks only: the image opened, or what long pass it needs first (done by the job, as its first stage).
   * A backend without it has every image opened in full when the request is checked.
   */
  checkImage?(path: string, options: CheckImageOptions, open: ImageBackend['openImage']): Promise<ImageCheck>;
}

export const defaultImageBackend: ImageBackend = { openImage, loadPlan, shareSource, checkImage };
