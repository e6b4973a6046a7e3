// bzip2 decoding on the system's own libbz2 (the library the `bzip2` command uses) through koffi, at the speed of
// `bzip2 -dc`, instead of a pure-JavaScript decoder several times slower. Multi-stream files (pbzip2, lbzip2) work.
import { FlashError } from '../contracts/errors.js';
import { addressOf, loadKoffi, decodeRing, ringBuffers, type AsyncFn } from './native-decode.js';

interface Libbz2 {
  init: (strm: Uint8Array, verbosity: number, small: number) => number;
  decompress: ((strm: Uint8Array) => number) & AsyncFn;
  end: (strm: Uint8Array) => number;
  address: (b: Uint8Array) => bigint;
}

const NAMES: Partial<Record<NodeJS.Platform, string[]>> = {
  linux: ['libbz2.so.1.0', 'libbz2.so.1'],
  darwin: ['libbz2.1.0.dylib', '/usr/lib/libbz2.1.0.dylib'],
};

let loaded: Libbz2 | null | undefined;

/** The system libbz2, or null where there is none or koffi cannot load (then unbzip2-stream decodes). */
export function systemLibbz2(): Libbz2 | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  const names = NAMES[process.platform];
  if (!names || process.env.FLASH_STATION_BZIP2 === 'js') return null;
  if (process.arch !== 'x64' && process.arch !== 'arm64') return null; // bz_stream layout below assumes LP64
  const koffi = loadKoffi();
  const address = koffi && addressOf(koffi);
  if (!koffi || !address) return null;
  for (const name of names) {
    try {
      const lib = koffi.load(name);
      loaded = {
        init: lib.func('int BZ2_bzDecompressInit(void *strm, int verbosity, int small)') as Libbz2['init'],
        decompress: lib.func('int BZ2_bzDecompress(void *strm)') as Libbz2['decompress'],
        end: lib.func('int BZ2_bzDecompressEnd(void *strm)') as Libbz2['end'],
        address,
      };
      return loaded;
    } catch {
      continue;
    }
  }
  return loaded;
}

// bz_stream on LP64: next_in 0, avail_in (u32) 8, total_in lo/hi 12/16, next_out 24, avail_out (u32) 32,
// total_out lo/hi 36/40, state 48, bzalloc 56, bzfree 64, opaque 72; 80 bytes, all zero before init.
const STREAM_BYTES = 80;
const BZ_OK = 0;
const BZ_STREAM_END = 4;
const BZ_DATA_ERROR_MAGIC = -5;
const OUT_BYTES = 1 << 20;
/** Output buffers when only the head of the stream is wanted (to sniff what it holds). */
const HEAD_BYTES = 64 << 10;

const ERRORS: Record<number, string> = {
  [-3]: 'out of memory',
  [-4]: 'corrupt data (a block fails its CRC or does not decode)',
  [-5]: 'not a bzip2 stream',
};

/** The decompressed bytes of a bzip2 file (concatenated streams too); slices are lent (see ByteSource.stream). */
/** With `head`, only the first bytes are wanted: small output buffers and no read-ahead, so one block is decoded. */
export async function* libbz2Decompress(lib: Libbz2, input: AsyncIterable<Uint8Array>, what: string, head = false): AsyncGenerator<Uint8Array> {
  const outBytes = head ? HEAD_BYTES : OUT_BYTES;
  const strm = new Uint8Array(STREAM_BYTES);
  const v = new DataView(strm.buffer);
  const corrupt = (ret: number): FlashError =>
    new FlashError('image_invalid', `${what}: the bzip2 stream is corrupt (${ERRORS[ret] ?? `libbz2 error ${ret}`}) — download the image again`);
  const truncated = (): FlashError =>
    new FlashError('image_invalid', `${what}: the bzip2 stream is truncated (it ends inside a block) — download the image again`);
  const start = (): void => {
    // A fresh decoder state, keeping the input libbz2 has not read yet (a further stream may start in the same slice).
    const nextIn = v.getBigUint64(0, true);
    const availIn = v.getUint32(8, true);
    strm.fill(0);
    v.setBigUint64(0, nextIn, true);
    v.setUint32(8, availIn, true);
    const ret = lib.init(strm, 0, 0);
    if (ret !== BZ_OK) throw new FlashError('internal', `libbz2 refused to start a decoder (error ${ret})`);
  };
  start();
  let open = true;
  const outs = ringBuffers(outBytes, head ? 2 : 4);
  const outAt = outs.map((b) => lib.address(b));
  const it = input[Symbol.asyncIterator]();
  let slice: Uint8Array | null = null; // kept referenced while libbz2 reads it
  let sawStream = false;
  let streams = 0;
  const availIn = (): number => v.getUint32(8, true);
  /** Point libbz2 at the next input slice when it has used up the last; false when there is no more input. */
  const feed = async (): Promise<boolean> => {
    if (availIn() > 0) return true;
    slice = null;
    for (;;) {
      const r = await it.next(); // the previous lent slice is used up
      if (r.done) return false;
      if (r.value.length === 0) continue;
      slice = r.value;
      v.setBigUint64(0, lib.address(slice), true);
      v.setUint32(8, slice.length, true);
      return true;
    }
  };
  const step = async (k: number): Promise<{ produced: number; more: boolean }> => {
    const hasInput = await feed();
    if (!hasInput) {
      // Input ended: between streams that is the end; inside one it is a truncated file.
      if (!sawStream) throw truncated();
      return { produced: 0, more: false };
    }
    if (!open) {
      start(); // a further stream follows the one that ended (pbzip2 writes one per block group)
      open = true;
    }
    sawStream = false;
    v.setBigUint64(24, outAt[k] ?? 0n, true);
    v.setUint32(32, outBytes, true);
    const ret = await new Promise<number>((resolve, reject) => {
      lib.decompress.async(strm, (err: Error | null, r: number) => (err ? reject(err) : resolve(r)));
    });
    const produced = outBytes - v.getUint32(32, true);
    if (ret === BZ_STREAM_END) {
      lib.end(strm);
      open = false;
      sawStream = true;
      streams++;
      // More input may hold a further stream; trailing zero padding after the last stream is not one.
      return { produced, more: true };
    }
    // Bytes after the last stream that are not a stream: ignored, as `bzip2 -d` does ("trailing garbage").
    if (ret === BZ_DATA_ERROR_MAGIC && streams > 0) {
      lib.end(strm);
      open = false;
      return { produced: 0, more: false };
    }
    if (ret !== BZ_OK) throw corrupt(ret);
    return { produced, more: true };
  };
  yield* decodeRing(outs, step, async () => {
    if (open) lib.end(strm);
    open = false;
    slice = null;
    await it.return?.();
  }, !head);
}
