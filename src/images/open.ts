// openImage: sniff an image file by magic bytes, layer by layer, and return it as a validated BlockSource.
import { access } from 'node:fs/promises';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { BlockSource } from '../contracts/source.js';
import type { ImagePrepareProgress } from '../contracts/plan.js';
import { FlashError } from '../contracts/errors.js';
import { loadBmap } from './bmap.js';
import { fileDataExtents } from './file-extents.js';
import { tuneMalloc } from './malloc-tuning.js';
import { fileByteSource, fileError, type ByteSource, type StreamOptions } from './byte-source.js';
import { fileIdentity, unchangedCheck } from './file-identity.js';
import { gzipExpandedSize, xzExpandedSize, zstdExpandedSize } from './container-size.js';
import { decompressed, type Compression } from './decompress.js';
import { formatBytes } from '../protocol/units.js';
import { RawSource, type ByteRange } from './raw-source.js';
import { sniff, SNIFF_BYTES } from './sniff.js';
import { spoolToFile, type SpoolFile, type SpoolProgress } from './spool.js';
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
  /** Where a compressed raw stream of unknown size is decoded once (see OpenImageOptions.spool). */
  spool?: { file: SpoolFile; onPrepare?: (p: ImagePrepareProgress) => void; maxBytes?: number; reserveBytes?: number };
  /** Only the cheap checks: a stream that must be decoded before writing rejects with PreparationNeeded. */
  defer?: boolean;
  /** Compressed bytes the innermost decoder has read of its input, and that input's size (for progress). */
  input?: () => { read: number; of: number };
  /** The innermost compression, and why its expanded size is not known cheaply (when it is not). */
  compression?: Compression;
  sizeUnknownBecause?: string;
}

/**
 * Thrown by a `defer` open when every cheap check passed and the image needs a long pass before it can be written:
 * decoding a compressed raw stream to learn its size (which also proves it whole). `stage` says what that pass does,
 * `note` why it is needed (for the job's log).
 */
export class PreparationNeeded extends Error {
  constructor(
    readonly stage: string,
    readonly note: string,
  ) {
    super(stage);
    this.name = 'PreparationNeeded';
  }
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
  // A FIFO would hold a libuv worker on open until a writer came; a device (/dev/zero) never ends.
  if (!st.isFile()) throw new FlashError('image_unreadable', `${path} is not a regular file; an image must be one.`);
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
    ...(options.spool ? { spool: { file: options.spool, onPrepare: options.onPrepare, maxBytes: options.spoolMaxBytes, reserveBytes: options.spoolReserveBytes } } : {}),
    ...(options.defer ? { defer: true } : {}),
  });
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
      let why: string | undefined;
      if (bs.readAt && bs.size !== undefined) {
        if (fmt === 'xz') size = await xzExpandedSize(bs, where, signal);
        else if (fmt === 'zstd') size = await zstdExpandedSize(bs, where, signal);
        else if (fmt === 'gzip') {
          const g = await gzipExpandedSize(bs, signal);
          size = g.size;
          if (g.size === undefined) why = g.why;
        }
      }
      if (size === undefined) {
        why ??= fmt === 'bzip2' ? 'bzip2 does not record the expanded size'
          : fmt === 'zstd' ? 'its zstd frames do not record their content size'
          : fmt === 'xz' ? 'the xz stream is not a file of its own (no index to read)'
          : 'the gzip stream is not a file of its own';
      }
      // Count what the decoder reads of a file of known length: the spool's progress.
      let input = bs;
      let counter = ctx.input;
      if ((ctx.spool || ctx.defer) && bs.size !== undefined) {
        const c = { read: 0, of: bs.size };
        input = counted(bs, c);
        counter = () => c;
      }
      const inner = decompressed(input, fmt satisfies Compression, `${where} (${fmt})`, size);
      return openByteSource(inner, { ...ctx, chain: [...ctx.chain, fmt], input: counter, compression: fmt, sizeUnknownBecause: why });
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
      // without a spool, once to count and again to flash.
      if (bs.size === undefined && ctx.defer) throw preparation(ctx);
      if (bs.size === undefined && ctx.spool) {
        const { file, onPrepare, maxBytes, reserveBytes } = ctx.spool;
        const why = preparation(ctx);
        const input = ctx.input;
        const made = await file.fill((dest, o) => spoolToFile(bs, dest, {
          ...o, hash: ctx.hash, maxBytes, reserveBytes, expectBytes: input?.().of, input,
        }), { signal, ...(onPrepare ? { onProgress: (p: SpoolProgress) => onPrepare({ stage: why.stage, note: why.note, ...p }) } : {}) });
        const spoolBytes = fileByteSource(file.path, 0, made.size, ctx.name);
        return rawSource(spoolBytes, made.size, file.path, ctx, describe(made.size), made.sha256);
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
async function rawSource(bs: ByteSource, size: number, filePath: string | undefined, ctx: OpenContext, description: string, sha256?: string): Promise<BlockSource> {
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
  // A spool file's hash was taken while it was decoded: nothing reads it again (and it may go when the batch ends).
  const hashFrom = sha256 !== undefined ? { sha256 } : { filePath };
  return new RawSource(bs, { size, description, hash: ctx.hash, reopenable: true, mapped, extents, unchanged: ctx.unchanged, ...hashFrom });
}

/** What the long pass of a deferred image does (the job's stage) and why it is needed (its log). */
function preparation(ctx: OpenContext): PreparationNeeded {
  const why = ctx.sizeUnknownBecause ?? 'its format does not record the expanded size';
  const once = 'so it is decompressed once into the station\'s spool — which also proves the stream whole — and written from there';
  if (ctx.compression === 'bzip2') return new PreparationNeeded('Checking the bzip2 stream is whole before writing', `${capital(why)}, ${once}.`);
  return new PreparationNeeded('Decompressing to learn the size', `${capital(why)}, ${once}.`);
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** `bs` whose streamed bytes are counted into `c.read`. */
function counted(bs: ByteSource, c: { read: number }): ByteSource {
  return {
    description: bs.description,
    size: bs.size,
    ...(bs.readAt ? { readAt: bs.readAt.bind(bs) } : {}),
    async *stream(signal?: AbortSignal, options?: StreamOptions): AsyncGenerator<Uint8Array> {
      for await (const b of bs.stream(signal, options)) {
        c.read += b.length;
        yield b;
      }
    },
  };
}

/** The first `n` bytes (fewer if the source is shorter). */
export async function peek(bs: ByteSource, n: number, signal?: AbortSignal): Promise<Uint8Array> {
  if (bs.readAt) return bs.readAt(0, bs.size === undefined ? n : Math.min(n, bs.size), signal);
  const parts: Uint8Array[] = [];
  let got = 0;
  const it = bs.stream(signal, { head: true })[Symbol.asyncIterator]();
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
