// Android sparse image parsing for the simulator's `flash`: validates a whole downloaded image before anything is
// written, then describes it as raw/fill/skip operations over the partition. Only headers are read here; RAW data is
// named by its place in the image and streamed when applied. (A compact reader of its own: the device checks the
// bytes it received, independently of the host-side image code it is meant to test.)
import type { ByteReader } from './download-store.js';

export const SPARSE_MAGIC = 0xed26ff3a;
const CHUNK_RAW = 0xcac1;
const CHUNK_FILL = 0xcac2;
const CHUNK_DONT_CARE = 0xcac3;
const CHUNK_CRC32 = 0xcac4;

export type SparseOp =
  /** `length` bytes found at `at` in the image go to `offset` in the partition. */
  | { kind: 'raw'; offset: number; length: number; at: number }
  | { kind: 'fill'; offset: number; length: number; value: number }
  | { kind: 'skip'; offset: number; length: number };

export interface SparseImage {
  blockSize: number;
  totalBlocks: number;
  /** Expanded size in bytes. */
  size: number;
  ops: SparseOp[];
  /** Bytes carried as RAW data. */
  rawBytes: number;
}

export class SparseError extends Error {
  override name = 'SparseError';
}

export async function isSparse(src: ByteReader): Promise<boolean> {
  if (src.size < 4) return false;
  const b = await src.read(0, 4);
  return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true) === SPARSE_MAGIC;
}

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** Parse and validate a complete sparse image. Throws SparseError saying what is broken. */
export async function parseSparse(src: ByteReader): Promise<SparseImage> {
  const total = src.size;
  if (total < 28) throw new SparseError(`sparse header truncated (${total} of 28 bytes)`);
  const dv = view(await src.read(0, 28));
  if (dv.getUint32(0, true) !== SPARSE_MAGIC) throw new SparseError('bad sparse magic');
  const major = dv.getUint16(4, true);
  if (major !== 1) throw new SparseError(`unsupported sparse major version ${major}`);
  const fileHdr = dv.getUint16(8, true);
  const chunkHdr = dv.getUint16(10, true);
  const blockSize = dv.getUint32(12, true);
  const totalBlocks = dv.getUint32(16, true);
  const totalChunks = dv.getUint32(20, true);
  if (fileHdr < 28) throw new SparseError(`sparse file header size ${fileHdr} < 28`);
  if (chunkHdr < 12) throw new SparseError(`sparse chunk header size ${chunkHdr} < 12`);
  if (blockSize === 0 || blockSize % 4 !== 0) throw new SparseError(`sparse block size ${blockSize} is not a multiple of 4`);
  if (fileHdr > total) throw new SparseError('sparse header truncated');

  const ops: SparseOp[] = [];
  let pos = fileHdr;
  let block = 0;
  let rawBytes = 0;
  for (let i = 0; i < totalChunks; i++) {
    if (pos + chunkHdr > total) throw new SparseError(`sparse chunk ${i} header truncated at byte ${pos}`);
    const head = await src.read(pos, chunkHdr + 4);
    const ch = view(head);
    const type = ch.getUint16(0, true);
    const blocks = ch.getUint32(4, true);
    const totalSz = ch.getUint32(8, true);
    const dataAt = pos + chunkHdr;
    const offset = block * blockSize;
    const length = blocks * blockSize;
    const expect = (extra: number): void => {
      if (totalSz !== chunkHdr + extra) {
        throw new SparseError(`sparse chunk ${i} (type 0x${type.toString(16)}) has total_sz ${totalSz}, expected ${chunkHdr + extra}`);
      }
      if (dataAt + extra > total) throw new SparseError(`sparse chunk ${i} data truncated (needs ${extra} bytes at ${dataAt})`);
    };
    switch (type) {
      case CHUNK_RAW:
        expect(length);
        if (length) ops.push({ kind: 'raw', offset, length, at: dataAt });
        rawBytes += length;
        break;
      case CHUNK_FILL:
        expect(4);
        if (length) ops.push({ kind: 'fill', offset, length, value: ch.getUint32(chunkHdr, true) });
        break;
      case CHUNK_DONT_CARE:
        expect(0);
        if (length) ops.push({ kind: 'skip', offset, length });
        break;
      case CHUNK_CRC32:
        expect(4);
        if (blocks !== 0) throw new SparseError(`sparse CRC32 chunk ${i} covers ${blocks} blocks (must be 0)`);
        break;
      default:
        throw new SparseError(`sparse chunk ${i} has unknown type 0x${type.toString(16)}`);
    }
    block += blocks;
    if (block > totalBlocks) throw new SparseError(`sparse chunks cover more than total_blks (${totalBlocks})`);
    pos = dataAt + (totalSz - chunkHdr);
  }
  if (block !== totalBlocks) throw new SparseError(`sparse chunks cover ${block} blocks, header says ${totalBlocks}`);
  if (pos !== total) throw new SparseError(`${total - pos} unexpected bytes after the last sparse chunk`);
  return { blockSize, totalBlocks, size: totalBlocks * blockSize, ops, rawBytes };
}
