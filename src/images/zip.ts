// Zip archives (yauzl): list entries safely, refuse unsafe names and zip bombs, give each entry as a ByteSource —
// stored, deflate (yauzl), or bzip2 / zstd / xz (methods 12 / 93 / 95, through the image decoders).
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import type Yauzl from 'yauzl';
import { FlashError } from '../contracts/errors.js';
import type { ByteSource } from './byte-source.js';
import { decompressed, type Compression } from './decompress.js';

/** deflate cannot expand more than ~1032:1; a declared ratio beyond this is a lie (a zip bomb). */
export const MAX_ZIP_RATIO = 1100;

export interface ZipEntryInfo {
  name: string;
  size: number;
  compressedSize: number;
  method: number;
  isDirectory: boolean;
}

export interface ZipArchive {
  readonly description: string;
  readonly entries: ZipEntryInfo[];
  /** The entry's uncompressed bytes; stored entries also allow random access. */
  entry(name: string): ByteSource;
  /** Rejects with `image_mismatch` when the file holding the archive changed since it was opened (file-identity.ts). */
  readonly unchanged?: () => Promise<void>;
  close(): void;
}

const require = createRequire(import.meta.url);
/** yauzl is loaded on the first zip only: most flashes never open one, and every process start pays for imports. */
let yauzlModule: typeof Yauzl | null = null;
let SourceReader: (new (src: ByteSource) => Yauzl.RandomAccessReader) | null = null;

function loadYauzl(): { yauzl: typeof Yauzl; Reader: new (src: ByteSource) => Yauzl.RandomAccessReader } {
  const yauzl = (yauzlModule ??= require('yauzl') as typeof Yauzl);
  SourceReader ??= class extends yauzl.RandomAccessReader {
    constructor(private readonly src: ByteSource) {
      super();
    }
    override _readStreamForRange(start: number, end: number): Readable {
      const src = this.src;
      return Readable.from(
        (async function* () {
          const readAt = src.readAt;
          if (!readAt) throw new Error('no random access');
          for (let at = start; at < end; at += 1 << 20) yield await readAt.call(src, at, Math.min(1 << 20, end - at));
        })(),
        { objectMode: false },
      );
    }
  };
  return { yauzl, Reader: SourceReader };
}

/**
 * Open a zip held by a random-access ByteSource (a file, or a stored entry of another zip). `unchanged`: the check
 * that the file holding it is still the one opened, handed on to the images read from its entries.
 */
export async function openZip(src: ByteSource, description: string, unchanged?: () => Promise<void>): Promise<ZipArchive> {
  if (!src.readAt || src.size === undefined) throw new FlashError('internal', 'zip needs random access');
  const { yauzl, Reader } = loadYauzl();
  const zf = await new Promise<Yauzl.ZipFile>((resolve, reject) =>
    yauzl.fromRandomAccessReader(new Reader(src), src.size ?? 0,
      { lazyEntries: true, autoClose: false, validateEntrySizes: true, decodeStrings: true },
      (e, z) => (e || !z ? reject(e ?? new Error('no zip')) : resolve(z))),
  ).catch((e: unknown) => {
    throw new FlashError('image_invalid', `${description}: not a readable zip archive (${(e as Error).message})`, { cause: e });
  });
  const raw = new Map<string, Yauzl.Entry>();
  const entries: ZipEntryInfo[] = [];
  await new Promise<void>((resolve, reject) => {
    zf.on('entry', (e: Yauzl.Entry) => {
      const isDirectory = e.fileName.endsWith('/');
      const info = { name: e.fileName, size: e.uncompressedSize, compressedSize: e.compressedSize,
        method: e.compressionMethod, isDirectory };
      const problem = entryProblem(info, e.isEncrypted());
      if (problem) {
        reject(new FlashError('image_invalid', `${description}: ${problem}`));
        return;
      }
      raw.set(e.fileName, e);
      entries.push(info);
      zf.readEntry();
    });
    zf.on('end', () => resolve());
    zf.on('error', (e: Error) => {
      const unsafe = /absolute path|invalid relative path|invalid characters/.test(e.message);
      reject(new FlashError('image_invalid', unsafe
        ? `${description}: entry name is unsafe (${e.message}); a zip must not name files outside itself`
        : `${description}: damaged zip (${e.message})`, { cause: e }));
    });
    zf.readEntry();
  }).catch((e: unknown) => {
    zf.close();
    throw e;
  });
  return {
    description,
    entries,
    entry(name: string): ByteSource {
      const e = raw.get(name);
      if (!e) throw new FlashError('image_not_found', `${description} has no entry ${name}`);
      return entrySource(src, zf, e, `${description}!${name}`);
    },
    ...(unchanged ? { unchanged } : {}),
    close: () => zf.close(),
  };
}

/** Why an entry must be refused, or null. Checks names (also when yauzl lets them through) and declared sizes. */
export function entryProblem(e: ZipEntryInfo, encrypted = false): string | null {
  const n = e.name;
  if (n.startsWith('/') || /^[a-zA-Z]:/.test(n) || n.split(/[/\\]/).includes('..')) {
    return `entry name ${JSON.stringify(n)} is unsafe; a zip must not name files outside itself`;
  }
  if (encrypted) return `entry ${n} is encrypted`;
  if (e.isDirectory) return null;
  if (!METHODS[e.method]) {
    return `entry ${n} uses compression method ${e.method}; supported: ${Object.entries(METHODS).map(([k, m]) => `${m.name} (${k})`).join(', ')}`;
  }
  if (e.method === 0 && e.size !== e.compressedSize) return `entry ${n} is stored but declares ${e.size} bytes for ${e.compressedSize}`;
  // (bzip2, zstd and xz legitimately expand zeros far beyond this; their output is held to the declared size instead)
  if (e.method === 8 && e.size > (1 << 20) && e.size / Math.max(1, e.compressedSize) > MAX_ZIP_RATIO) {
    return `entry ${n} claims to expand ${e.compressedSize} bytes to ${e.size} (more than ${MAX_ZIP_RATIO}:1, impossible for deflate): refusing a zip bomb`;
  }
  return null;
}

/** Zip compression methods read here: stored, deflate, and the ones our image decoders handle. */
const METHODS: Record<number, { name: string; kind?: Compression }> = {
  0: { name: 'stored' },
  8: { name: 'deflate' },
  12: { name: 'bzip2', kind: 'bzip2' },
  93: { name: 'zstd', kind: 'zstd' },
  95: { name: 'xz', kind: 'xz' },
};

/** The entry's bytes as they lie in the archive (after its local header): random access, checked header. */
function regionSource(src: ByteSource, e: Yauzl.Entry, length: number, description: string): ByteSource {
  let dataStart: Promise<number> | null = null;
  const start = (signal?: AbortSignal): Promise<number> => {
    const readAt = src.readAt;
    if (!readAt) throw new FlashError('internal', 'zip needs random access');
    dataStart ??= readAt.call(src, e.relativeOffsetOfLocalHeader, 30, signal).then((h) => {
      const v = new DataView(h.buffer, h.byteOffset, h.length);
      if (h.length < 30 || v.getUint32(0, true) !== 0x04034b50) {
        throw new FlashError('image_invalid', `${description}: local header is damaged`);
      }
      return e.relativeOffsetOfLocalHeader + 30 + v.getUint16(26, true) + v.getUint16(28, true);
    });
    return dataStart;
  };
  const readAt = async (offset: number, n: number, signal?: AbortSignal): Promise<Uint8Array> => {
    const base = await start(signal);
    const read = src.readAt;
    if (!read) throw new FlashError('internal', 'zip needs random access');
    return read.call(src, base + offset, Math.max(0, Math.min(n, length - offset)), signal);
  };
  return {
    description,
    size: length,
    readAt,
    async *stream(signal?: AbortSignal) {
      for (let at = 0; at < length; at += 4 << 20) yield await readAt(at, Math.min(4 << 20, length - at), signal);
    },
  };
}

function entrySource(src: ByteSource, zf: Yauzl.ZipFile, e: Yauzl.Entry, description: string): ByteSource {
  const size = e.uncompressedSize;
  // Stored: the bytes lie in the archive as they are.
  if (e.compressionMethod === 0) return regionSource(src, e, size, description);
  // bzip2, zstd, xz: the compressed bytes lie in the archive; our own decoders expand them, held to the declared size.
  const kind = METHODS[e.compressionMethod]?.kind;
  if (kind) return decompressed(regionSource(src, e, e.compressedSize, `${description} (${kind})`), kind, description, size);
  return {
    description,
    size,
    async *stream(signal?: AbortSignal) {
      const rs = await new Promise<Readable>((resolve, reject) =>
        zf.openReadStream(e, (err, s) => (err || !s ? reject(err ?? new Error('no stream')) : resolve(s))),
      ).catch((err: unknown) => {
        throw new FlashError('image_invalid', `${description}: cannot be read from the zip (${(err as Error).message})`);
      });
      try {
        for await (const b of rs as AsyncIterable<Buffer>) {
          signal?.throwIfAborted();
          yield b;
        }
      } catch (err) {
        if (signal?.aborted) throw new FlashError('cancelled', 'Cancelled');
        const m = (err as Error).message;
        throw new FlashError('image_invalid', `${description}: ${/too (few|many) bytes|unexpected end/i.test(m) ? 'the compressed data is truncated or its size is wrong' : 'the compressed data is corrupt'} (${m})`, { cause: err });
      } finally {
        rs.destroy();
      }
    },
  };
}
