// checkImage: the cheap checks of an image file, for a caller that must answer at once (start_flash). An image that
// needs a long pass before it can be written — decoding a compressed raw stream to learn its size, which also proves
// it whole — comes back as a PreparedImage whose `open` does that pass (once, into a spool file shared by every job
// of the batch, with progress) when the job runs; `release` deletes the spool file when the batch ends.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { BlockSource } from '../contracts/source.js';
import type { ImagePrepareProgress } from '../contracts/plan.js';
import { openImage, PreparationNeeded } from './open.js';
import { SpoolFile } from './spool.js';
import type { OpenImageOptions } from './types.js';

export interface CheckImageOptions {
  /** Where a spool file may be made (the station's DATA_DIR/spool, private). */
  spoolDir: string;
  signal?: AbortSignal;
  bmapPath?: string;
  hash?: boolean;
  /** The spool stops with `image_too_large` past this many expanded bytes (the largest target of the batch). */
  maxBytes?: number;
  /** Free space the spool leaves on its disk (default 256 MiB). */
  reserveBytes?: number;
}

/** An image whose cheap checks passed and that needs a long pass before it is written. */
export interface PreparedImage {
  /** What the pass does, for the job's stage: `Decompressing to learn the size`. */
  readonly stage: string;
  /** Why it is needed, for the job's log. */
  readonly note: string;
  /** The spool file it decodes into. */
  readonly spoolPath: string;
  /**
   * The image, decoded into the spool first if no job did that yet (concurrent opens share one decode, which stops
   * only when all of them are cancelled). Progress goes to `onPrepare` while the decode runs.
   */
  open(options?: { signal?: AbortSignal; onPrepare?: (p: ImagePrepareProgress) => void }): Promise<BlockSource>;
  /** Delete the spool file (the batch has ended). Idempotent. */
  release(): Promise<void>;
}

export type ImageCheck = { source: BlockSource; prepare?: undefined } | { prepare: PreparedImage; source?: undefined };

/** How an image is opened (`openImage`, or a caller's wrapper of it). */
export type ImageOpener = (path: string, options: OpenImageOptions) => Promise<BlockSource>;

/**
 * Open `path` if that is cheap; otherwise say what its long pass will be, having checked everything cheap first.
 * Every open (the cheap one now, the long one later) goes through `open`.
 */
export async function checkImage(path: string, options: CheckImageOptions, open: ImageOpener = openImage): Promise<ImageCheck> {
  const common = {
    ...(options.bmapPath !== undefined ? { bmapPath: options.bmapPath } : {}),
    ...(options.hash !== undefined ? { hash: options.hash } : {}),
  };
  try {
    return { source: await open(path, { ...common, signal: options.signal, defer: true }) };
  } catch (e) {
    if (!(e instanceof PreparationNeeded)) throw e;
    const file = new SpoolFile(join(options.spoolDir, `${randomUUID()}.raw`));
    const { stage, note } = e;
    return {
      prepare: {
        stage,
        note,
        spoolPath: file.path,
        open: (o = {}): Promise<BlockSource> => {
          const onPrepare = o.onPrepare;
          return open(path, {
            ...common,
            signal: o.signal,
            spool: file,
            ...(options.maxBytes !== undefined ? { spoolMaxBytes: options.maxBytes } : {}),
            ...(options.reserveBytes !== undefined ? { spoolReserveBytes: options.reserveBytes } : {}),
            ...(onPrepare ? { onPrepare } : {}),
          });
        },
        release: () => file.remove(),
      },
    };
  }
}
