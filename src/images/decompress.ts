// Decompressing byte sources: gzip (node:zlib), xz (the system liblzma, or lzma-native's), zstd (zstd-napi's libzstd binding), bzip2
// (the system libbz2, or unbzip2-stream where there is none). Each failure names the format and says whether the file looks truncated or corrupt.
import { createRequire } from 'node:module';
import { Readable, type Duplex } from 'node:stream';
import { createGunzip, constants as zc } from 'node:zlib';
import { FlashError } from '../contracts/errors.js';
import { owned, type ByteSource, type StreamOptions } from './byte-source.js';
import { libbz2Decompress, systemLibbz2 } from './bz2-libbz2.js';
import { xzDecompress } from './xz-stream.js';
import { zstdDecompress } from './zstd-stream.js';

export type Compression = 'gzip' | 'xz' | 'zstd' | 'bzip2';

const require = createRequire(import.meta.url);

type Bunzip = () => Duplex;

let bunzip: Bunzip | null = null;

/** What the decoders have done in this process, by format: for tests and benches that prove an image is decoded once. */
export interface DecodeCount {
  /** Streams started (a peek at the head of a stream counts too). */
  passes: number;
  /** Streams read to their end: each is one full decode. */
  wholePasses: number;
  /** Expanded bytes produced. */
  bytes: number;
}

const counts: Record<Compression, DecodeCount> = {
  gzip: { passes: 0, wholePasses: 0, bytes: 0 },
  xz: { passes: 0, wholePasses: 0, bytes: 0 },
  zstd: { passes: 0, wholePasses: 0, bytes: 0 },
  bzip2: { passes: 0, wholePasses: 0, bytes: 0 },
};

/** A copy of the decode counters (they only grow; compare two readings). */
export function decodeCounts(): Record<Compression, DecodeCount> {
  return { gzip: { ...counts.gzip }, xz: { ...counts.xz }, zstd: { ...counts.zstd }, bzip2: { ...counts.bzip2 } };
}

/** Input slices fed to a decoder: small enough that a synchronous decoder (zstd) never blocks the loop for long. */
const FEED_BYTES = 256 << 10;

function decoder(kind: Compression): Duplex {
  switch (kind) {
    case 'gzip':
      return createGunzip({ chunkSize: 1 << 20 });
    case 'xz':
    case 'zstd':
      throw new FlashError('internal', `${kind} is decoded without node streams`);
    case 'bzip2':
      bunzip ??= require('unbzip2-stream') as Bunzip;
      return bunzip();
  }
}

async function* sliced(input: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  for await (const b of input) {
    for (let o = 0; o < b.length; o += FEED_BYTES) yield b.subarray(o, o + FEED_BYTES);
  }
}

/** Map a decoder's error to a FlashError a person can act on. */
export function decodeError(kind: Compression, what: string, e: unknown): FlashError {
  if (e instanceof FlashError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: string | number }).code;
  const truncated =
    /unexpected end|ended in middle|truncat|premature|end of (file|input|stream)|incomplete|no progress is possible/i.test(msg) ||
    code === 'Z_BUF_ERROR' || code === zc.Z_BUF_ERROR;
  if (truncated) {
    return new FlashError('image_invalid', `${what}: the ${kind} stream is truncated (${msg}) — download the image again`, { cause: e });
  }
  return new FlashError('image_invalid', `${what}: the ${kind} stream is corrupt (${msg}) — download the image again`, { cause: e });
}

/** The decompressed bytes of `inner` (one stream through the decoder each time `stream()` is called). */
export function decompressed(inner: ByteSource, kind: Compression, description: string, size?: number): ByteSource {
  return {
    description,
    size,
    async *stream(signal?: AbortSignal, options?: StreamOptions): AsyncGenerator<Uint8Array> {
      const count = counts[kind];
      count.passes++;
      for await (const out of decode(signal, options?.head ?? false)) {
        count.bytes += out.length;
        yield out;
      }
      count.wholePasses++;
    },
  };

  async function* decode(signal: AbortSignal | undefined, head: boolean): AsyncGenerator<Uint8Array> {
    const bz2 = kind === 'bzip2' ? systemLibbz2() : null;
    if (kind === 'zstd' || kind === 'xz' || bz2) {
      let total = 0;
      const run = bz2 ? (i: AsyncIterable<Uint8Array>, w: string) => libbz2Decompress(bz2, i, w, head) : kind === 'zstd' ? zstdDecompress : xzDecompress;
      for await (const out of run(inner.stream(signal), description)) {
        signal?.throwIfAborted();
        total += out.length;
        if (size !== undefined && total > size) throw tooLong(description, kind, size);
        yield out;
      }
      if (size !== undefined && total !== size) {
        throw new FlashError('image_invalid', `${description}: the ${kind} stream gave ${total} bytes, ${size} expected: it is truncated or corrupt`);
      }
      return;
    }
    const d = decoder(kind);
    // Node streams keep written chunks queued: give them copies of the lent input slices.
    const input = owned(inner.stream(signal));
    const src = Readable.from(kind === 'bzip2' ? sliced(input) : input, { objectMode: false, highWaterMark: 1 });
    let failure: unknown = null;
    src.on('error', (e) => {
      failure ??= e;
      d.destroy(e);
    });
    d.on('error', (e) => {
      failure ??= e;
    });
    src.pipe(d);
    // unbzip2-stream is an old-style (through) stream: iterate it through its events.
    const out$ = kind === 'bzip2' ? classicIterable(d) : (d as AsyncIterable<Buffer>);
    let total = 0;
    try {
      for await (const out of out$) {
        signal?.throwIfAborted();
        total += out.length;
        if (size !== undefined && total > size) throw tooLong(description, kind, size);
        yield out;
      }
    } catch (e) {
      if (signal?.aborted) throw new FlashError('cancelled', 'Cancelled');
      throw decodeError(kind, description, failure ?? e);
    } finally {
      src.destroy();
      d.destroy();
    }
    if (failure) throw decodeError(kind, description, failure);
    if (size !== undefined && total !== size) {
      throw new FlashError('image_invalid', `${description}: the ${kind} stream gave ${total} bytes, ${size} expected: it is truncated or corrupt`);
    }
  }
}

/** Output beyond the size the container declared (a zip entry, the xz index): refused as soon as it appears. */
function tooLong(description: string, kind: Compression, size: number): FlashError {
  return new FlashError('image_invalid', `${description}: the ${kind} stream gives more than the ${size} bytes declared — the file is corrupt or a zip bomb`);
}

/** Iterate an old-style stream ('data'/'end'/'error' events), pausing it while the consumer is behind. */
async function* classicIterable(d: Duplex): AsyncGenerator<Buffer> {
  const queue: Buffer[] = [];
  let ended = false;
  // Set from the stream's 'error' handler: typed so that the check below does not narrow it to null.
  let error = null as Error | null;
  let wake: (() => void) | null = null;
  const poke = (): void => {
    wake?.();
    wake = null;
  };
  d.on('data', (b: Buffer) => {
    queue.push(b);
    if (queue.length > 16) d.pause();
    poke();
  });
  d.on('end', () => {
    ended = true;
    poke();
  });
  d.on('error', (e: unknown) => {
    error ??= e instanceof Error ? e : new Error(String(e));
    poke();
  });
  for (;;) {
    const b = queue.shift();
    if (b) {
      if (queue.length < 4) d.resume();
      yield b;
      continue;
    }
    if (error) throw error;
    if (ended) return;
    await new Promise<void>((res) => (wake = res));
  }
}
