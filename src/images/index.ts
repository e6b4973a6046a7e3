/**
 * The image pipeline's public face: open any image as a BlockSource, split it into AOSP-style sparse pieces, share
 * one decoded stream among several writers, and load flash plans (bundles, manifests; families add their own formats).
 *
 * - `openImage(path)` sniffs the format by magic bytes (raw, Android sparse, gzip, xz, zstd, bzip2, zip, nested),
 *   validates what can be validated before anything is written (sparse chunk table of an uncompressed sparse file,
 *   xz index, zstd frame sizes, zip entry sizes and names) and returns a BlockSource that streams in bounded memory,
 *   finds fill blocks in raw data, honours a `.bmap`, and hashes the expanded image on the way (`sha256()`).
 * - `resparse(source, maxBytes)` yields pieces of at most `maxBytes`, each with its exact `length` before its bytes.
 *   With `source.readAt` a piece is planned from chunk metadata and its data read afterwards (memory: a few MiB);
 *   without it (compressed input) one piece is buffered — in memory up to 8 MiB, the rest in a temporary file.
 * - `shareSource(source, n)` tees one source to `n` consumers through a bounded buffer at the slowest one's pace.
 * - `loadPlan(input, readers)` turns a bundle folder or zip, a manifest (JSON/YAML), an inline plan, or a format a
 *   family reads, into steps whose images open lazily.
 */
export type { BlockSource, Chunk } from '../contracts/source.js';
export type {
  OpenImageOptions,
  SparsePiece,
  PlanImage,
  LoadedStep,
  LoadedPlan,
  SharedBlockSource,
} from './types.js';
export { PIECE_SLICE_BYTES } from './types.js';
export { openImage, PreparationNeeded } from './open.js';
export { resparse } from './resparse.js';
export { writeSparse } from './sparse-writer.js';
export { shareSource } from './share.js';
export { loadPlan, openPlanStep, withSource, type LoadPlanOptions, type PlanReader } from './plan.js';
export { checkFits } from './fits.js';
export { checkImage, type CheckImageOptions, type ImageCheck, type ImageOpener, type PreparedImage } from './prepare.js';
export { decodeCounts, type DecodeCount } from './decompress.js';
