// Expanded sizes read from compressed files' own structure, checked before writing: the xz index (xz-index.ts) and
// zstd frame headers walked block by block — both also prove the file is not cut short.
import { FlashError } from '../contracts/errors.js';
import type { ByteSource } from './byte-source.js';
import { headerWindow } from './header-window.js';
import { readXzIndex } from './xz-index.js';
import { formatBytes } from '../protocol/units.js';

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
const HEADER_WINDOW = 16 << 10;

/**
 * Walk the zstd frames of a file (frame headers and block headers only) and add up their declared content sizes.
 * Returns undefined when a frame does not declare its size; throws `image_invalid` when the frames do not end
 * exactly at the end of the file (truncated) or a header is malformed.
 */
export async function zstdExpandedSize(src: ByteSource, what: string, signal?: AbortSignal): Promise<number | undefined> {
  const fileSize = src.size;
  if (fileSize === undefined) throw new FlashError('internal', 'zstd frames need a file of known size');
  const bad = (why: string): FlashError =>
    new FlashError('image_invalid', `${what}: ${why} — the zstd file is truncated or corrupt; download it again`);
  // The blocks of a zero run are a few bytes each, so one window covers thousands of them (one read per header made a
  // 512 MiB image's walk take ~0.2 s, and grow with the image).
  const win = headerWindow(src, fileSize, { windowBytes: HEADER_WINDOW, signal });
  const read = async (at: number, n: number): Promise<DataView> => {
    if (at + n > fileSize) throw bad(`file ends at byte ${fileSize}, inside a frame`);
    const b = await win.read(at, n);
    return new DataView(b.buffer, b.byteOffset, n);
  };
  try {
    return await walkZstd(read, fileSize, bad, signal);
  } finally {
    win.close();
  }
}

async function walkZstd(
  read: (at: number, n: number) => Promise<DataView>,
  fileSize: number,
  bad: (why: string) => FlashError,
  signal: AbortSignal | undefined,
): Promise<number | undefined> {
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

/** Deflate's largest expansion: one 258-byte match per 2 bits (zlib's technical notes: 1032:1). */
const DEFLATE_MAX_RATIO = 1032;
/** Deflate's least expansion: stored blocks, 5 bytes of header per at most 65 535 bytes. */
const STORED_BLOCK = 65_535;
const FOUR_GIB = 2 ** 32;

/** What the gzip trailer says about the expanded size: the size, or why it cannot be trusted. */
export type GzipSize = { size: number } | { size?: undefined; why: string };

/**
 * The expanded size of a gzip file from its trailer (ISIZE), only when it cannot be wrong. ISIZE is the size modulo
 * 4 GiB of the *last member* only, so it is taken when the header parses, the file is too small to expand past
 * 4 GiB even at deflate's best ratio (so no wrap), and the figure is one a single member spanning the file can have.
 * A file made of several members (`cat a.gz b.gz`) whose last member looks like the whole is the one case this cannot
 * see; its stream is held to the size while it is read and fails with `image_invalid` past it. Otherwise `why` says
 * why the size is left to a decode.
 */
export async function gzipExpandedSize(src: ByteSource, signal?: AbortSignal): Promise<GzipSize> {
  const readAt = src.readAt;
  const fileSize = src.size;
  if (!readAt || fileSize === undefined) return { why: 'the gzip stream is not a file of its own' };
  if (fileSize < 18 + 2) return { why: 'the gzip file is too short to hold a trailer' };
  const head = await readAt.call(src, 0, Math.min(fileSize, 4096), signal);
  const headerLen = gzipHeaderLength(head);
  if (headerLen === undefined) return { why: 'its gzip header is longer than expected' };
  const tail = await readAt.call(src, fileSize - 8, 8, signal);
  const isize = new DataView(tail.buffer, tail.byteOffset, 8).getUint32(4, true);
  const payload = fileSize - headerLen - 8;
  if (payload <= 0) return { why: 'the gzip file holds no compressed data' };
  if (payload * DEFLATE_MAX_RATIO + 1024 >= FOUR_GIB) {
    return { why: `gzip records the size only modulo 4 GiB, and ${formatBytes(payload)} of deflate data can expand past that` };
  }
  const leastPayload = (n: number): number => n + 5 * (Math.floor(n / STORED_BLOCK) + 1);
  // Fewer expanded bytes than even stored blocks would need for this much data, or more than deflate can give.
  // (Slack: sync flushes add empty stored blocks of 5 bytes.)
  if (leastPayload(isize) + 64 + payload / 1000 < payload || isize > payload * DEFLATE_MAX_RATIO + 1024) {
    return { why: 'the size in its gzip trailer does not fit its compressed data (several members, or a damaged trailer)' };
  }
  return { size: isize };
}

/** Bytes of a gzip member header (RFC 1952: fixed 10, then FEXTRA, FNAME, FCOMMENT, FHCRC), or undefined when it does not end within `b`. */
export function gzipHeaderLength(b: Uint8Array): number | undefined {
  if (b.length < 10 || b[0] !== 0x1f || b[1] !== 0x8b || b[2] !== 8) return undefined;
  const flg = b[3] ?? 0;
  let at = 10;
  if (flg & 4) {
    if (at + 2 > b.length) return undefined;
    at += 2 + ((b[at] ?? 0) | ((b[at + 1] ?? 0) << 8));
  }
  for (const bit of [8, 16]) {
    if (!(flg & bit)) continue;
    const end = b.indexOf(0, at);
    if (end < 0) return undefined;
    at = end + 1;
  }
  if (flg & 2) at += 2;
  return at <= b.length ? at : undefined;
}
