// Expanded sizes read from compressed files' own structure, checked before writing: the xz index (xz-index.ts) and
// zstd frame headers walked block by block — both also prove the file is not cut short.
import { FlashError } from '../contracts/errors.js';
import type { ByteSource } from './byte-source.js';
import { readXzIndex } from './xz-index.js';

/** Expanded size of an xz file from its index; FlashError `image_invalid` when the index is missing (truncated file). */
export async function xzExpandedSize(src: ByteSource, what: string, signal?: AbortSignal): Promise<number> {
  if (!src.readAt || src.size === undefined) throw new FlashError('internal', 'xz index needs random access');
  const info = await readXzIndex(src, signal).catch((e: unknown) => {
    if (signal?.aborted) throw new FlashError('cancelled', 'Cancelled');
    throw new FlashError(
      'image_invalid',
      `${what}: the xz index cannot be read (${(e as Error).message}) — the file is truncated or corrupt; download it again`,
      { cause: e },
    );
  });
  return info.uncompressedSize;
}

const ZSTD_MAGIC = 0xfd2fb528;

/**
 * Walk the zstd frames of a file (frame headers and block headers only) and add up their declared content sizes.
 * Returns undefined when a frame does not declare its size; throws `image_invalid` when the frames do not end
 * exactly at the end of the file (truncated) or a header is malformed.
 */
export async function zstdExpandedSize(src: ByteSource, what: string, signal?: AbortSignal): Promise<number | undefined> {
  const readAt = src.readAt;
  const fileSize = src.size;
  if (!readAt || fileSize === undefined) throw new FlashError('internal', 'zstd frames need random access');
  const bad = (why: string): FlashError =>
    new FlashError('image_invalid', `${what}: ${why} — the zstd file is truncated or corrupt; download it again`);
  const read = async (at: number, n: number): Promise<DataView> => {
    if (at + n > fileSize) throw bad(`file ends at byte ${fileSize}, inside a frame`);
    const b = await readAt.call(src, at, n, signal);
    return new DataView(b.buffer, b.byteOffset, b.length);
  };
  let pos = 0;
  let total: number | undefined = 0;
  let frames = 0;
  while (pos < fileSize) {
    const magic = (await read(pos, 4)).getUint32(0, true);
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      const len = (await read(pos + 4, 4)).getUint32(0, true); // skippable frame
      pos += 8 + len;
      continue;
    }
    if (magic !== ZSTD_MAGIC) throw bad(`frame ${frames + 1} at byte ${pos} has no zstd magic`);
    const fhd = (await read(pos + 4, 1)).getUint8(0);
    const fcsFlag = fhd >> 6;
    const single = (fhd >> 5) & 1;
    const checksum = (fhd >> 2) & 1;
    const dictFlag = fhd & 3;
    const dictBytes = [0, 1, 2, 4][dictFlag] ?? 0;
    const fcsBytes = fcsFlag === 0 ? single : [0, 2, 4, 8][fcsFlag] ?? 0;
    let at = pos + 5 + (single ? 0 : 1) + dictBytes;
    if (fcsBytes === 0) total = undefined;
    else if (total !== undefined) {
      const v = await read(at, fcsBytes);
      const size =
        fcsBytes === 1 ? v.getUint8(0) : fcsBytes === 2 ? v.getUint16(0, true) + 256 : fcsBytes === 4 ? v.getUint32(0, true) : Number(v.getBigUint64(0, true));
      total += size;
    }
    at += fcsBytes;
    for (;;) {
      signal?.throwIfAborted();
      const h = await read(at, 3);
      const bh = h.getUint8(0) | (h.getUint8(1) << 8) | (h.getUint8(2) << 16);
      const last = bh & 1;
      const type = (bh >> 1) & 3;
      const size = bh >>> 3;
      if (type === 3) throw bad(`frame ${frames + 1} has a reserved block type`);
      at += 3 + (type === 1 ? 1 : size);
      if (at > fileSize) throw bad(`file ends at byte ${fileSize}, inside frame ${frames + 1}`);
      if (last) break;
    }
    at += checksum ? 4 : 0;
    if (at > fileSize) throw bad(`file ends inside the checksum of frame ${frames + 1}`);
    pos = at;
    frames++;
  }
  if (frames === 0) throw bad('no zstd frame');
  return total;
}
