// Plan AOSP-style sparse pieces from block runs: which runs go in which piece, split where libsparse splits.
import type { BlockRun } from './block-runs.js';
import { CHUNK_HEADER_SIZE, FILE_HEADER_SIZE } from './sparse-format.js';

/** One chunk of a planned piece (data bytes are fetched from a store when the piece streams). */
export type PlanEntry =
  | { kind: 'data'; start: number; blocks: number }
  | { kind: 'fill'; start: number; blocks: number; value: number }
  | { kind: 'skip'; start: number; blocks: number };

export interface PiecePlan {
  index: number;
  startBlock: number;
  endBlock: number;
  entries: PlanEntry[];
  length: number;
  dataBytes: number;
  chunkCount: number;
}

export interface PlanOptions {
  blockSize: number;
  totalBlocks: number;
  maxBytes: number;
}

/** The smallest piece limit that still carries one data block: header, DONT_CARE before/after, one RAW block. */
export function minPieceBytes(blockSize: number): number {
  return FILE_HEADER_SIZE + 3 * CHUNK_HEADER_SIZE + blockSize;
}

function cost(e: PlanEntry, blockSize: number): number {
  return CHUNK_HEADER_SIZE + (e.kind === 'data' ? e.blocks * blockSize : e.kind === 'fill' ? 4 : 0);
}

/**
 * Plans pieces of at most `maxBytes`. `onRun` is awaited for every run as it is taken from `runs` (before it is
 * placed), so a store can keep the data of runs that streaming sources will not give twice.
 * Each piece but the last is filled to at least 7/8 of `maxBytes` (a data run is split when more than 1/8 would
 * stay empty, as libsparse does); skips at a piece's edges become its leading/trailing DONT_CARE.
 */
export async function* planPieces(
  runs: AsyncIterable<BlockRun>,
  o: PlanOptions,
  onRun?: (run: BlockRun) => Promise<void> | void,
): AsyncGenerator<PiecePlan> {
  const { blockSize: bs, totalBlocks, maxBytes } = o;
  let index = 0;
  let entries: PlanEntry[] = [];
  let startBlock = 0;
  let used = 0; // header + leading DONT_CARE + entries
  const open = (at: number): void => {
    entries = [];
    startBlock = at;
    used = FILE_HEADER_SIZE + (at > 0 ? CHUNK_HEADER_SIZE : 0);
  };
  const close = (): PiecePlan => {
    while (entries.length > 0 && entries[entries.length - 1]?.kind === 'skip') entries.pop();
    const last = entries[entries.length - 1];
    const endBlock = last ? last.start + last.blocks : startBlock;
    let length = FILE_HEADER_SIZE;
    let dataBytes = 0;
    for (const e of entries) {
      length += cost(e, bs);
      if (e.kind === 'data') dataBytes += e.blocks * bs;
    }
    const lead = startBlock > 0 ? 1 : 0;
    const trail = endBlock < totalBlocks ? 1 : 0;
    length += (lead + trail) * CHUNK_HEADER_SIZE;
    return { index: index++, startBlock, endBlock, entries, length, dataBytes, chunkCount: entries.length + lead + trail };
  };
  open(0);
  const reserve = CHUNK_HEADER_SIZE; // the trailing DONT_CARE
  for await (const run of runs) {
    if (onRun) await onRun(run);
    let r: PlanEntry =
      run.kind === 'fill'
        ? { kind: 'fill', start: run.start, blocks: run.blocks, value: run.value }
        : { kind: run.kind, start: run.start, blocks: run.blocks };
    for (;;) {
      if (entries.length === 0 && r.kind === 'skip') {
        startBlock = r.start + r.blocks;
        used = FILE_HEADER_SIZE + CHUNK_HEADER_SIZE;
        break;
      }
      if (entries.length === 0 && startBlock !== r.start) {
        // a piece opened after a split starts right at its first run
        startBlock = r.start;
        used = FILE_HEADER_SIZE + (r.start > 0 ? CHUNK_HEADER_SIZE : 0);
      }
      const last = entries[entries.length - 1];
      const extends_ =
        last !== undefined &&
        last.kind === r.kind &&
        last.start + last.blocks === r.start &&
        (r.kind !== 'fill' || (last.kind === 'fill' && last.value === r.value));
      const add = extends_ ? (r.kind === 'data' ? r.blocks * bs : 0) : cost(r, bs);
      if (used + add + reserve <= maxBytes) {
        if (extends_ && last) last.blocks += r.blocks;
        else entries.push(r);
        used += add;
        break;
      }
      if (r.kind === 'data') {
        const room = maxBytes - used - reserve - (extends_ ? 0 : CHUNK_HEADER_SIZE);
        const fit = Math.floor(room / bs);
        const wasteful = maxBytes - used - reserve > maxBytes / 8;
        if (fit > 0 && (wasteful || entries.length === 0)) {
          if (extends_ && last) last.blocks += fit;
          else entries.push({ kind: 'data', start: r.start, blocks: fit });
          r = { kind: 'data', start: r.start + fit, blocks: r.blocks - fit };
        }
      }
      if (entries.length === 0) {
        throw new RangeError(`piece limit ${maxBytes} is too small for block size ${bs}`);
      }
      yield close();
      open(r.start);
    }
  }
  if (entries.length > 0 || index === 0) yield close();
}
