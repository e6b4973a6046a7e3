// The xz index read in JavaScript (stream footer → index → stream header, from the end, for every concatenated
// stream): the expanded size, and proof the file is whole, without loading a native xz library just for that.
import { crc32 } from 'node:zlib';
import type { ByteSource } from './byte-source.js';

const HEADER_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
/** An index larger than this is not a real image's (16 bytes per block would mean millions of blocks). */
const MAX_INDEX_BYTES = 64 << 20;

export interface XzIndexInfo {
  uncompressedSize: number;
  streams: number;
  blocks: number;
}

/**
 * Walk an xz file's streams from its end (stream padding, footer, index, the stream header the index leads back to)
 * and add up the blocks' uncompressed sizes. Throws an Error saying what is wrong when any of it does not check out
 * (CRC32s, magic bytes, sizes): a truncated or corrupt file.
 */
export async function readXzIndex(src: ByteSource, signal?: AbortSignal): Promise<XzIndexInfo> {
  const readAt = src.readAt;
  const fileSize = src.size;
  if (!readAt || fileSize === undefined) throw new Error('the xz index needs random access');
  const read = async (at: number, n: number): Promise<Uint8Array> => {
    if (at < 0 || at + n > fileSize) throw new Error(`the file is too short (${fileSize} bytes) for its own structure`);
    const b = await readAt.call(src, at, n, signal);
    if (b.length !== n) throw new Error('the file is truncated');
    return b;
  };
  const u32 = (b: Uint8Array, at: number): number => new DataView(b.buffer, b.byteOffset, b.length).getUint32(at, true);
  if (fileSize % 4 !== 0) throw new Error(`its size (${fileSize} bytes) is not a multiple of 4, as every xz file's is`);
  let pos = fileSize;
  let total = 0;
  let streams = 0;
  let blocks = 0;
  while (pos > 0) {
    signal?.throwIfAborted();
    // Stream padding: groups of four zero bytes between (and after) streams.
    for (;;) {
      const at = Math.max(0, pos - 4096);
      const w = await read(at, pos - at);
      let k = w.length;
      while (k >= 4 && u32(w, k - 4) === 0) k -= 4;
      pos = at + k;
      if (k > 0 || at === 0) break;
    }
    if (pos === 0) break;
    if (pos < 24) throw new Error('the file ends inside its first stream');
    const footer = await read(pos - 12, 12);
    if (footer[10] !== 0x59 || footer[11] !== 0x5a) throw new Error(`no stream footer at byte ${pos - 12}`);
    if (crc32(footer.subarray(4, 10)) !== u32(footer, 0)) throw new Error(`the stream footer at byte ${pos - 12} fails its CRC32`);
    const indexSize = (u32(footer, 4) + 1) * 4;
    const indexAt = pos - 12 - indexSize;
    if (indexSize > MAX_INDEX_BYTES || indexAt < 12) throw new Error(`the stream footer at byte ${pos - 12} points before the file's start`);
    const index = await read(indexAt, indexSize);
    if (index[0] !== 0) throw new Error(`no index at byte ${indexAt}`);
    if (crc32(index.subarray(0, indexSize - 4)) !== u32(index, indexSize - 4)) throw new Error(`the index at byte ${indexAt} fails its CRC32`);
    let i = 1;
    const varint = (): number => {
      let v = 0;
      let mul = 1;
      for (let n = 0; n < 9; n++) {
        const byte = index[i++];
        if (byte === undefined || i > indexSize - 4) throw new Error(`the index at byte ${indexAt} is cut short`);
        v += (byte & 0x7f) * mul;
        mul *= 128;
        if ((byte & 0x80) === 0) {
          if (!Number.isSafeInteger(v)) throw new Error(`the index at byte ${indexAt} holds an impossible size`);
          return v;
        }
      }
      throw new Error(`the index at byte ${indexAt} holds a malformed number`);
    };
    const records = varint();
    let blockBytes = 0;
    let size = 0;
    for (let r = 0; r < records; r++) {
      const unpadded = varint();
      const uncompressed = varint();
      if (unpadded < 5) throw new Error(`the index at byte ${indexAt} holds an impossible block size`);
      blockBytes += Math.ceil(unpadded / 4) * 4;
      size += uncompressed;
    }
    while (i % 4 !== 0) if (index[i++] !== 0) throw new Error(`the index at byte ${indexAt} has non-zero padding`);
    if (i !== indexSize - 4) throw new Error(`the index at byte ${indexAt} does not fill its declared size`);
    const start = indexAt - blockBytes - 12;
    if (start < 0) throw new Error(`the index at byte ${indexAt} describes more blocks than the file holds`);
    const header = await read(start, 12);
    if (!HEADER_MAGIC.every((m, k) => header[k] === m)) throw new Error(`no stream header at byte ${start} (truncated or corrupt)`);
    if (header[6] !== footer[8] || header[7] !== footer[9] || crc32(header.subarray(6, 8)) !== u32(header, 8)) {
      throw new Error(`the stream header at byte ${start} does not match its footer`);
    }
    total += size;
    if (!Number.isSafeInteger(total)) throw new Error('the expanded size is too large');
    streams++;
    blocks += records;
    pos = start;
  }
  if (streams === 0) throw new Error('no xz stream');
  return { uncompressedSize: total, streams, blocks };
}
