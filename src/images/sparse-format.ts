// Android sparse image format (AOSP libsparse): constants and pure header codecs over bytes.
import { FlashError } from '../contracts/errors.js';

export const SPARSE_MAGIC = 0xed26ff3a;
export const FILE_HEADER_SIZE = 28;
export const CHUNK_HEADER_SIZE = 12;
export const CHUNK_RAW = 0xcac1;
export const CHUNK_FILL = 0xcac2;
export const CHUNK_DONT_CARE = 0xcac3;
export const CHUNK_CRC32 = 0xcac4;

export interface SparseHeader {
  major: number;
  minor: number;
  fileHeaderSize: number;
  chunkHeaderSize: number;
  blockSize: number;
  totalBlocks: number;
  totalChunks: number;
  checksum: number;
}

export interface SparseChunkHeader {
  type: number;
  /** Output blocks this chunk covers. */
  blocks: number;
  /** Bytes in the file, header included. */
  totalSize: number;
}

/** Parse and check a sparse file header (at least 28 bytes). Throws FlashError `image_invalid`. */
export function parseSparseHeader(b: Uint8Array, what = 'sparse image'): SparseHeader {
  if (b.length < FILE_HEADER_SIZE) throw new FlashError('image_invalid', `${what}: file header is truncated`);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (v.getUint32(0, true) !== SPARSE_MAGIC) throw new FlashError('image_invalid', `${what}: not an Android sparse image`);
  const h: SparseHeader = {
    major: v.getUint16(4, true),
    minor: v.getUint16(6, true),
    fileHeaderSize: v.getUint16(8, true),
    chunkHeaderSize: v.getUint16(10, true),
    blockSize: v.getUint32(12, true),
    totalBlocks: v.getUint32(16, true),
    totalChunks: v.getUint32(20, true),
    checksum: v.getUint32(24, true),
  };
  if (h.major !== 1) {
    throw new FlashError('image_invalid', `${what}: sparse format version ${h.major}.${h.minor} is not supported (only 1.x)`);
  }
  if (h.fileHeaderSize < FILE_HEADER_SIZE || h.chunkHeaderSize < CHUNK_HEADER_SIZE) {
    throw new FlashError('image_invalid', `${what}: header sizes ${h.fileHeaderSize}/${h.chunkHeaderSize} are too small`);
  }
  if (h.blockSize === 0 || h.blockSize % 4 !== 0) {
    throw new FlashError('image_invalid', `${what}: block size ${h.blockSize} is not a positive multiple of 4`);
  }
  return h;
}

/** Parse a chunk header (12 bytes) and check its sizes against its type. */
export function parseChunkHeader(b: Uint8Array, h: SparseHeader, index: number, what = 'sparse image'): SparseChunkHeader {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const c = { type: v.getUint16(0, true), blocks: v.getUint32(4, true), totalSize: v.getUint32(8, true) };
  const body = c.totalSize - h.chunkHeaderSize;
  const bad = (why: string): FlashError =>
    new FlashError('image_invalid', `${what}: chunk ${index + 1} of ${h.totalChunks} ${why}`);
  switch (c.type) {
    case CHUNK_RAW:
      if (body !== c.blocks * h.blockSize) throw bad(`(raw) holds ${body} bytes, not ${c.blocks} blocks of ${h.blockSize}`);
      break;
    case CHUNK_FILL:
      if (body !== 4) throw bad(`(fill) has size ${c.totalSize}, expected ${h.chunkHeaderSize + 4}`);
      break;
    case CHUNK_DONT_CARE:
      if (body !== 0) throw bad(`(don't care) has size ${c.totalSize}, expected ${h.chunkHeaderSize}`);
      break;
    case CHUNK_CRC32:
      if (body !== 4) throw bad(`(crc32) has size ${c.totalSize}, expected ${h.chunkHeaderSize + 4}`);
      break;
    default:
      throw bad(`has unknown type 0x${c.type.toString(16)}`);
  }
  return c;
}

/** The error for chunk sizes that do not add up to the header's block count. */
export function blockCountError(sum: number, h: SparseHeader, what = 'sparse image'): FlashError {
  return new FlashError(
    'image_invalid',
    `${what}: chunks cover ${sum} blocks but the header says ${h.totalBlocks}: the image is corrupt or truncated`,
  );
}

/** Encode a 28-byte file header. */
export function encodeSparseHeader(blockSize: number, totalBlocks: number, totalChunks: number): Uint8Array {
  const b = new Uint8Array(FILE_HEADER_SIZE);
  const v = new DataView(b.buffer);
  v.setUint32(0, SPARSE_MAGIC, true);
  v.setUint16(4, 1, true);
  v.setUint16(6, 0, true);
  v.setUint16(8, FILE_HEADER_SIZE, true);
  v.setUint16(10, CHUNK_HEADER_SIZE, true);
  v.setUint32(12, blockSize, true);
  v.setUint32(16, totalBlocks, true);
  v.setUint32(20, totalChunks, true);
  v.setUint32(24, 0, true);
  return b;
}

/** Write a chunk header into `out` at `at` (12 bytes; FILL chunks also need their 4-byte value after it). */
export function writeChunkHeader(out: Uint8Array, at: number, type: number, blocks: number, totalSize: number): void {
  const v = new DataView(out.buffer, out.byteOffset + at, CHUNK_HEADER_SIZE);
  v.setUint16(0, type, true);
  v.setUint16(2, 0, true);
  v.setUint32(4, blocks, true);
  v.setUint32(8, totalSize, true);
}

/** Bytes a chunk takes in a sparse file with 12-byte chunk headers. */
export function chunkCost(kind: 'data' | 'fill' | 'skip', blocks: number, blockSize: number): number {
  if (kind === 'data') return CHUNK_HEADER_SIZE + blocks * blockSize;
  return kind === 'fill' ? CHUNK_HEADER_SIZE + 4 : CHUNK_HEADER_SIZE;
}
