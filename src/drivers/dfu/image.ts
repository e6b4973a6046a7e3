// What a DFU step writes, from the opened image: bytes cut into wTransferSize blocks (a raw file may stream, however
// large: u-boot DFU writes whole eMMC partitions), or DfuSe elements (address + bytes) for a DfuSe part.
import { FlashError } from '../../contracts/errors.js';
import type { BlockSource, Chunk } from '../../contracts/source.js';
import { parseDfuFile, type DfuFile, type DfuseElement } from './file.js';

/** Files up to this size are read whole (their suffix and CRC are checked); larger raw files stream. */
export const BUFFER_LIMIT = 64 * 1024 * 1024;

/** Bytes that go out (or are read back) in consecutive blocks. */
export interface Payload {
  readonly size: number;
  /** Consecutive blocks of `blockSize` bytes; the last may be shorter. Each call starts from byte 0. */
  blocks(blockSize: number, signal?: AbortSignal): AsyncIterable<Uint8Array>;
}

/** What a flash or verify step has to move: the parsed file, or (past BUFFER_LIMIT) a raw file that streams. */
export type DfuImage = { kind: 'file'; file: DfuFile; name: string } | { kind: 'stream'; payload: Payload; name: string };

export function bytesPayload(bytes: Uint8Array): Payload {
  return {
    size: bytes.length,
    async *blocks(blockSize: number) {
      for (let at = 0; at < bytes.length; at += blockSize) yield bytes.subarray(at, Math.min(bytes.length, at + blockSize));
    },
  };
}

/** Expands a chunk into bytes: data as it is, fills as their word, skips as erased flash (0xFF). */
function chunkBytes(c: Chunk): Uint8Array {
  if (c.kind === 'data') return c.bytes;
  const out = new Uint8Array(c.length);
  if (c.kind === 'skip') return out.fill(0xff);
  const word = new Uint8Array(4);
  new DataView(word.buffer).setUint32(0, c.value >>> 0, true);
  for (let i = 0; i < c.length; i += 4) out.set(word.subarray(0, Math.min(4, c.length - i)), i);
  return out;
}

/** Streams a source in blocks, in bounded memory; reopens it for every pass (a verify after a write). */
export function sourcePayload(source: BlockSource): Payload {
  let passes = 0;
  return {
    size: source.size,
    async *blocks(blockSize: number, signal?: AbortSignal) {
      if (passes++ > 0 && !source.reopenable) {
        throw new FlashError('internal', `${source.description} cannot be read twice; open it again for the read-back`);
      }
      let pending = new Uint8Array(blockSize);
      let fill = 0;
      for await (const c of source.chunks(signal)) {
        const bytes = chunkBytes(c);
        for (let at = 0; at < bytes.length; ) {
          const n = Math.min(blockSize - fill, bytes.length - at);
          pending.set(bytes.subarray(at, at + n), fill);
          fill += n;
          at += n;
          if (fill === blockSize) {
            yield pending;
            pending = new Uint8Array(blockSize);
            fill = 0;
          }
        }
      }
      if (fill > 0) yield pending.subarray(0, fill);
    },
  };
}

/** The whole source in memory (files up to BUFFER_LIMIT). */
export async function readSource(source: BlockSource, signal?: AbortSignal): Promise<Uint8Array> {
  if (source.size > BUFFER_LIMIT) {
    throw new FlashError('image_too_large', `${source.description} (${source.size} bytes) is larger than the ${BUFFER_LIMIT / 1048576} MiB a DFU file can be`);
  }
  const out = new Uint8Array(source.size);
  for await (const c of source.chunks(signal)) out.set(chunkBytes(c), c.offset);
  return out;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

/** Text of an element for errors: `0x08004000–0x08004400 (1024 bytes)`. */
export function elementText(e: DfuseElement): string {
  return `${hex(e.address)}–${hex(e.address + e.data.length)} (${e.data.length} bytes)`;
}

/** The file name a source was opened from (`fw.dfu` of `fw.dfu (raw, 1.0 KiB)`). */
export function sourceName(source: BlockSource): string {
  return source.description.replace(/ \(.*$/, '');
}

/**
 * Opens a step's image as DFU input: read whole and parsed (raw, .dfu with its suffix and CRC checked, DfuSe), or, for
 * a raw file larger than BUFFER_LIMIT, streamed as it is (such files are partition images, which carry no suffix).
 */
export async function loadImage(source: BlockSource, signal?: AbortSignal, limit = BUFFER_LIMIT): Promise<DfuImage> {
  const name = sourceName(source);
  if (source.size > limit) {
    if (/\.dfu$/i.test(name)) {
      throw new FlashError('image_too_large', `${name} (${source.size} bytes) is larger than the ${limit} bytes a .dfu file can be here`);
    }
    return { kind: 'stream', payload: sourcePayload(source), name };
  }
  return { kind: 'file', file: parseDfuFile(await readSource(source, signal), name), name };
}
