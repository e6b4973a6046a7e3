// JobSpec: what one job will do, resolved and validated before the job exists (device, steps, images).
import type { LoadedPlan, LoadedStep, PlanImage, SharedBlockSource } from '../images/index.js';
import type { BlockSource } from '../contracts/source.js';

export interface JobSpec {
  deviceId: string;
  /** Shown as Job.target: `boot ← /images/boot.img` or the plan's name. */
  target: string;
  batchId?: string;
  /** Single-image requests: the image file. */
  imagePath?: string;
  /** Its size on disk. */
  imageFileSize?: number;
  /** Expanded size, when known before the job starts. */
  imageBytes?: number;
  steps: LoadedStep[];
  /** The plan as JSON for history. */
  planJson: string;
  /** The auto-flash rule that started it, if any. */
  ruleId?: string;
  /** Called once when the job has ended (closes a loaded plan when its last job ends). */
  release(): Promise<void>;
  /** Give up a pre-opened (shared) source: the job will open the image itself when it runs. */
  discardPreopened?(): void;
}

/**
 * A PlanImage whose first `open()` hands out an already opened source (validated at request time, or one consumer
 * of a shared decode); later opens (a retry, a verify) open the file afresh.
 */
export function preopenedImage(
  name: string,
  first: BlockSource,
  reopen: () => Promise<BlockSource>,
  usePreopened = true,
): PlanImage & { discard(): void } {
  let pending: BlockSource | undefined = usePreopened ? first : undefined;
  return {
    discard: () => {
      releaseSource(pending);
      pending = undefined;
    },
    name,
    location: name,
    declaredSize: first.size,
    open: async () => {
      const s = pending;
      pending = undefined;
      return s ?? reopen();
    },
  };
}

/** Leave a shared consumer without reading, so the other consumers stop waiting for it. */
export function releaseSource(source: BlockSource | undefined): void {
  const shared = source as Partial<SharedBlockSource> | undefined;
  if (shared && typeof shared.release === 'function') shared.release();
}

/** Close a plan once every job that uses it has ended. */
export function refCounted(plan: LoadedPlan | undefined, users: number): () => Promise<void> {
  return afterLast(users, async () => plan?.close());
}

/** A release each of `users` jobs calls once when it ends; the last call runs `close`. */
export function afterLast(users: number, close: () => Promise<void>): () => Promise<void> {
  let left = users;
  return async () => {
    left--;
    if (left === 0) await close();
  };
}
