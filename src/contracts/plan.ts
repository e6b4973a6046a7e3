/**
 * Plans as the core holds them before a job runs: steps whose images open lazily. A family may read plan formats of
 * its own (Android factory zips, ESP-IDF flasher_args.json) through `Family.readPlan`; the generic manifest is read
 * by src/images/plan.ts.
 */
import type { PlanStep, StepOptions, Target } from './family.js';
import type { BlockSource } from './source.js';

/** An image a plan step refers to, opened only when the step runs (once per step). */
export interface PlanImage {
  /** What the plan called it (a path relative to the bundle, or an entry name in a zip). */
  readonly name: string;
  /** Where it lives, for logs: `/abs/bundle/boot.img`, `factory.zip!image-x.zip!boot.img`. */
  readonly location: string;
  /** Declared expanded size when known cheaply (zip entry size, file size of a raw image), else undefined. */
  readonly declaredSize?: number;
  /**
   * `onPrepare` hears of a long pass the image needs before it can be written (decompressing it to learn its size),
   * while it runs; an image opened without one never calls it.
   */
  open(options?: { signal?: AbortSignal; onPrepare?: (p: ImagePrepareProgress) => void }): Promise<BlockSource>;
}

/** A long pass an image needs before any byte of it is written, as it goes: a job shows it as a stage of its own. */
export interface ImagePrepareProgress {
  /** What the pass does: `Decompressing to learn the size`. */
  stage: string;
  /** Why it is needed (one sentence for the job's log). */
  note: string;
  /** Expanded bytes so far. */
  bytes: number;
  /** How far through its input it is, 0–1, when known. */
  fraction?: number;
}

/** A plan step before its image is opened. Every other op is already final (`PlanStep` of contracts/family.ts). */
export type LoadedStep =
  | { op: 'flash'; target: Target; image: PlanImage; options?: StepOptions }
  | { op: 'verify'; target: Target; image: PlanImage; options?: StepOptions }
  | Exclude<PlanStep, { op: 'flash' } | { op: 'verify' }>;

/** A plan ready to run: steps in order, images opened lazily. */
export interface LoadedPlan {
  /** Human name: the manifest's `name`, the zip's name, or `inline plan`. */
  readonly name: string;
  /** Where the plan came from (absolute path) or `inline`. */
  readonly origin: string;
  readonly steps: LoadedStep[];
  /** Sum of the images' declared sizes where known (for a first progress estimate). */
  readonly declaredBytes: number;
  /** Release what the plan holds (temporary files of nested zips). Safe to call twice. */
  close(): Promise<void>;
}

/** Human text of a target for stages and logs: `boot`, `0x10000`, `the whole device`. */
export function targetText(target: Target): string {
  if ('partition' in target) return target.partition;
  // Memory-mapped addresses as their data sheets write them (0x08000000); flash offsets short (0x10000).
  if ('address' in target) return `0x${target.address.toString(16).padStart(target.address > 0xffffff ? 8 : 1, '0')}`;
  return 'the whole device';
}

/** An address as `start_flash` and plans give it: a non-negative integer, or a `"0x…"` string. Undefined when neither. */
export function parseAddress(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string' || !/^0x[0-9a-f]{1,13}$/i.test(value.trim())) return undefined;
  return Number.parseInt(value.trim().slice(2), 16);
}
