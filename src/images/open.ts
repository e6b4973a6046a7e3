// openImage: sniff an image file by magic bytes, layer by layer, and return it as a validated BlockSource.
import { createHash } from 'node:crypto';
import { access, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { BlockSource } from '../contracts/source.js';
import { FlashError } from '../contracts/errors.js';
import { loadBmap } from './bmap.js';
import { fileDataExtents } from './file-extents.js';
import { tuneMalloc } from './malloc-tuning.js';
import { fileByteSource, fileError, type ByteSource } from './byte-source.js';
import { fileIdentity, unchangedCheck } from './file-identity.js';
import { xzExpandedSize, zstdExpandedSize } from './container-size.js';
import { decompressed, type Compression } from './decompress.js';
import { formatBytes } from '../protocol/units.js';
import { RawSource, type ByteRange } from './raw-source.js';
import { sniff, SNIFF_BYTES } from './sniff.js';
import { spooled, spoolToFile } from './spool.js';
import { indexSparseFile, SparseSource } from './sparse-source.js';
import { parseSparseHeader, FILE_HEADER_SIZE } from './sparse-format.js';
import type { OpenImageOptions } from './types.js';
import { openZip } from './zip.js';
import { sniffAddressed } from './addressed.js';
import { addressedSource, MAX_ADDRESSED_TEXT, parseAddressed } from './addressed-source.js';

const MAX_DEPTH = 4;
const BUNDLE_MARKERS = /(^|\/)(flash\.(json|ya?ml)|manifest\.(json|ya?ml)|android-info\.txt)$/i;
const IGNORED = /(^|\/)(__MACOSX\/|\.DS_Store$)|\.(bmap|txt|md|sha256|sha1|md5|sig|asc)$/i;

export interface OpenContext {
  name: string;
  signal?: AbortSignal;
  hash: boolean;
  /** Candidate .bmap paths for a raw image; `required` when the user named one. */
  bmap?: { paths: string[]; required: boolean };
  chain: string[];
  /** The file `openImage` was given; the image is this file itself while `chain` is empty. */
  file?: string;
  /** Rejects with `image_mismatch` once that file changed (replaced, resized, written to) since it was opened. */
  unchanged?: () => Promise<void>;
  /** Where a compressed raw stream of unknown size is decoded once (see OpenImageOptions.spoolDir). */
  spool?: { dir: string; key: string; onPrepare?: (bytes: number) => void };
}

/** Open `path` (raw, sparse, gzip, xz, zstd, bzip2, zip, nested) as a BlockSource; validates its structure first. */
export async function openImage(path: string, options: OpenImageOptions = {}): Promise<BlockSource> {
  tuneMalloc();
  const st = await stat(path).catch((e: unknown) => {
    throw fileError(e, path);
  });
  if (st.isDirectory()) {
    throw new FlashError('image_unreadable', `${path} is a folder: flash it as a plan (bundle) or pick the image inside`);
  }
  const name = basename(path);
  const bmapPaths = options.bmapPath
    ? [options.bmapPath]
    : [`${path}.bmap`, `${path.replace(/\.(gz|xz|zst|zstd|bz2|zip)$/i, '')}.bmap`];
  return openByteSource(fileByteSource(path, 0, st.size, name), {
    name,
    signal: options.signal,
    hash: options.hash ?? true,
    bmap: { paths: bmapPaths, required: options.bmapPath !== undefined },
    chain: [],
    file: path,
    unchanged: unchangedCheck(path, fileIdentity(st)),
    ...(options.spoolDir ? { spool: { dir: options.spoolDir, key: spoolKey(fileIdentity(st)), ...(options.onPrepare ? { onPrepare: options.onPrepare } : {}) } } : {}),
  });
}

/** The spool file name of an image file: its identity, so a changed file never reuses an old spool. */
function spoolKey(id: ReturnType<typeof fileIdentity>): string {
  return createHash('sha256').update(`${id.dev}:${id.ino}:${id.size}:${id.mtimeMs}`).digest('hex').slice(0, 32);
}

/** Open any byte source (a file, a zip entry, a decompressed stream) as a BlockSource. */
export async function openByteSource(bs: ByteSource, ctx: OpenContext): Promise<BlockSource> {
  const { signal } = ctx;
  signal?.throwIfAborted();
  const head = await peek(bs, SNIFF_BYTES, signal);
  const where = ctx.chain.length ? `${ctx.name} (inside ${ctx.chain.join(' in ')})` : ctx.name;
  if (head.length === 0) throw new FlashError('image_invalid', `${where} is empty`);
  const fmt = sniff(head);
  const describe = (size: number): string =>
    `${ctx.name} (${[fmt, ...[...ctx.chain].reverse()].join(' in ')}, ${formatBytes(size)})`;
  switch (fmt) {
    case 'sparse': {
      const h = parseSparseHeader(head.length >= FILE_HEADER_SIZE ? head : await peek(bs, FILE_HEADER_SIZE, signal), where);
      const size = h.totalBlocks * h.blockSize;
      const index = bs.readAt && bs.size !== undefined ? await indexSparseFile(bs, h, bs.size, signal) : undefined;
      return new SparseSource(bs, { header: h, description: describe(size), hash: ctx.hash, reopenable: true, index,
        dataEstimate: bs.size, filePath: ctx.chain.length === 0 ? ctx.file : undefined, unchanged: ctx.unchanged });
    }
    case 'gzip':
    case 'xz':
    case 'zstd':
    case 'bzip2': {
      if (ctx.chain.length >= MAX_DEPTH) throw new FlashError('image_invalid', `${where} is nested more than ${MAX_DEPTH} deep`);
      let size: number | undefined;
      if (bs.readAt && bs.size !== undefined) {
        if (fmt === 'xz') size = await xzExpandedSize(bs, where, signal);
        else if (fmt === 'zstd') size = await zstdExpandedSize(bs, where, signal);
      }
      const inner = decompressed(bs, fmt satisfies Compression, `${where} (${fmt})`, size);
      return openByteSource(inner, { ...ctx, chain: [...ctx.chain, fmt] });
    }
    case 'zip': {
      if (!bs.readAt || bs.size === undefined) {
        throw new FlashError('image_invalid', `${where}: a zip inside a compressed file cannot be read; unpack the outer layer first`);
      }
      if (ctx.chain.length >= MAX_DEPTH) throw new FlashError('image_invalid', `${where} is nested more than ${MAX_DEPTH} deep`);
      const zip = await openZip(bs, where);
      const files = zip.entries.filter((e) => !e.isDirectory);
      if (files.some((e) => BUNDLE_MARKERS.test(e.name))) {
        zip.close();
        throw new FlashError('image_invalid', `${where} is a flash bundle or factory image: flash it as a plan, not as one image`);
      }
      const images = files.filter((e) => !IGNORED.test(e.name));
      const only = images[0];
      if (images.length !== 1 || !only) {
        zip.close();
        throw new FlashError('image_invalid', images.length === 0
          ? `${where} holds no image`
          : `${where} holds ${images.length} files (${images.slice(0, 5).map((e) => e.name).join(', ')}${images.length > 5 ? ', …' : ''}): ` +
            'flash it as a plan with a manifest, or unpack the image you want');
      }
      return openByteSource(zip.entry(only.name), { ...ctx, name: only.name, chain: [...ctx.chain, 'zip'] });
    }
    case 'raw': {
      // A compressed stream that does not record its size: decode it once into a spool file (proving it whole), or,
      // without a spool dir, once to count and again to flash.
      if (bs.size === undefined && ctx.spool) {
        const { dir, key, onPrepare } = ctx.spool;
        const path = await spooled(dir, key, async (tmp) => {
          await spoolToFile(bs, tmp, { signal, onProgress: (p) => onPrepare?.(p.bytes) });
        });
        const st = await stat(path);
        return rawSource(fileByteSource(path, 0, st.size, ctx.name), st.size, path, ctx, describe(st.size));
      }
      // Intel HEX / S-record text (a plain file): validated now, counted by the data bytes its records carry.
      const addressed = bs.readAt && bs.size !== undefined && bs.size <= MAX_ADDRESSED_TEXT ? sniffAddressed(head) : undefined;
      if (addressed && bs.size !== undefined) {
        const image = await parseAddressed(bs, addressed, where, signal);
        return addressedSource(await rawSource(bs, bs.size, ctx.chain.length === 0 ? ctx.file : undefined, ctx, describe(bs.size)), image, ctx.name);
      }
      const size = bs.size ?? (await countBytes(bs, signal));
      return rawSource(bs, size, ctx.chain.length === 0 ? ctx.file : undefined, ctx, describe(size));
    }
  }
}

/** A raw image: its .bmap if any, and the file's holes when it is a file on disk. */
async function rawSource(bs: ByteSource, size: number, filePath: string | undefined, ctx: OpenContext, description: string): Promise<BlockSource> {
  let mapped: ByteRange[] | undefined;
  if (ctx.bmap) {
    for (const p of ctx.bmap.paths) {
      if (ctx.bmap.required || (await access(p).then(() => true, () => false))) {
        mapped = await loadBmap(p, size);
        break;
      }
    }
  }
  // A raw file that is sparse on disk (a spool file too): its holes are known from the file system instead of read.
  const extents = filePath ? await fileDataExtents(filePath, size) : undefined;
  return new RawSource(bs, { size, description, hash: ctx.hash, reopenable: true, mapped, filePath, extents, unchanged: ctx.unchanged });
}

/**
 * True when opening `path` would have to decode the whole image first to learn its size: a raw image inside gzip or
 * bzip2 (their headers do not record it). Cheap: reads the file's head and decodes only the first block of it. A
 * caller that must answer quickly (start_flash) opens such an image later, as the job's first stage.
 */
export async function decodesToSize(path: string): Promise<boolean> {
  const st = await stat(path).catch(() => undefined);
  if (!st?.isFile()) return false;
  const bs = fileByteSource(path, 0, st.size, basename(path));
  const fmt = sniff(await peek(bs, SNIFF_BYTES));
  if (fmt !== 'gzip' && fmt !== 'bzip2') return false;
  const inner = await peek(decompressed(bs, fmt, path), SNIFF_BYTES).catch(() => undefined);
  // A stream that does not even start to decode is refused when it is opened; here it is simply not deferred.
  return inner !== undefined && inner.length > 0 && sniff(inner) === 'raw';
}

/** The first `n` bytes (fewer if the source is shorter). */
export async function peek(bs: ByteSource, n: number, signal?: AbortSignal): Promise<Uint8Array> {
  if (bs.readAt) return bs.readAt(0, bs.size === undefined ? n : Math.min(n, bs.size), signal);
  const parts: Uint8Array[] = [];
  let got = 0;
  const it = bs.stream(signal)[Symbol.asyncIterator]();
  try {
    while (got < n) {
      const r = await it.next();
      if (r.done) break;
      parts.push(r.value);
      got += r.value.length;
    }
  } finally {
    await it.return?.();
  }
  return Buffer.concat(parts).subarray(0, n);
}

/** Decompress once to learn the expanded size (gzip and bzip2 do not record it); also proves the stream is whole. */
async function countBytes(bs: ByteSource, signal?: AbortSignal): Promise<number> {
  let n = 0;
  for await (const b of bs.stream(signal)) n += b.length;
  return n;
}
