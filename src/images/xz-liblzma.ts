// xz decoding on the system's own liblzma (the library the `xz` command uses) through koffi's FFI: decoded straight
// into a ring of reused 1 MiB buffers, one lent to the consumer while liblzma fills the others on the thread pool.
import { FlashError } from '../contracts/errors.js';
import { addressOf, loadKoffi, decodeRing, ringBuffers, type AsyncFn, type DecodeStep } from './native-decode.js';

interface Liblzma {
  decoder(strm: Uint8Array, memlimit: bigint, flags: number): number;
  code: ((strm: Uint8Array, action: number) => number) & AsyncFn;
  end(strm: Uint8Array): void;
  /** The address of a buffer's first byte. */
  address(b: Uint8Array): bigint;
  version: string;
}

const LIBS: Partial<Record<NodeJS.Platform, string[]>> = {
  linux: ['liblzma.so.5'],
  darwin: ['liblzma.5.dylib', '/opt/homebrew/lib/liblzma.5.dylib', '/usr/local/lib/liblzma.5.dylib'],
};

let loaded: Liblzma | null | undefined;

/** The system liblzma (5.2 or later), or null where there is none or koffi cannot load (then lzma-native decodes). */
export function systemLiblzma(): Liblzma | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  const names = LIBS[process.platform];
  if (!names || process.env.FLASH_STATION_XZ === 'lzma-native') return null;
  if (process.arch !== 'x64' && process.arch !== 'arm64') return null; // lzma_stream layout below assumes LP64
  const koffi = loadKoffi();
  const address = koffi && addressOf(koffi);
  if (!koffi || !address) return null;
  try {
    for (const name of names) {
      let lib;
      try {
        lib = koffi.load(name);
      } catch {
        continue;
      }
      const versionNumber = Number(lib.func('uint32_t lzma_version_number(void)')());
      if (versionNumber < 50020000) continue;
      const version = String(lib.func('const char *lzma_version_string(void)')());
      const code = lib.func('int lzma_code(void *strm, int action)');
      loaded = {
        decoder: lib.func('int lzma_stream_decoder(void *strm, uint64_t memlimit, uint32_t flags)') as Liblzma['decoder'],
        code: code as Liblzma['code'],
        end: lib.func('void lzma_end(void *strm)'),
        address,
        version,
      };
      return loaded;
    }
  } catch {
    loaded = null;
  }
  return loaded;
}

// lzma_stream on LP64: next_in 0, avail_in 8, total_in 16, next_out 24, avail_out 32, total_out 40, then allocator,
// internal and reserved fields up to 136 bytes; all zero is LZMA_STREAM_INIT.
const STREAM_BYTES = 136;
const LZMA_OK = 0;
const LZMA_STREAM_END = 1;
const LZMA_RUN = 0;
const LZMA_FINISH = 3;
const LZMA_CONCATENATED = 0x08;
const MEMLIMIT = 1n << 30n;
const OUT_BYTES = 1 << 20;

const ERRORS: Record<number, string> = {
  5: 'out of memory',
  6: 'the file needs more than 1 GiB of memory to decode (a dictionary that large is not made by xz presets)',
  7: 'not an xz file',
  8: 'unsupported options',
  9: 'corrupt data',
  10: 'unexpected end of input',
};

/** The decompressed bytes of an xz stream (concatenated streams too); slices are lent (see ByteSource.stream). */
export async function* liblzmaDecompress(lib: Liblzma, input: AsyncIterable<Uint8Array>, what: string): AsyncGenerator<Uint8Array> {
  const strm = new Uint8Array(STREAM_BYTES);
  const v = new DataView(strm.buffer);
  const fail = (ret: number): FlashError => {
    const truncated = ret === 10;
    return new FlashError('image_invalid', `${what}: the xz stream is ${truncated ? 'truncated' : 'corrupt'} (${ERRORS[ret] ?? `liblzma error ${ret}`}) — ` +
      'download the image again');
  };
  const init = lib.decoder(strm, MEMLIMIT, LZMA_CONCATENATED);
  if (init !== LZMA_OK) throw new FlashError('internal', `liblzma ${lib.version} refused to start a decoder (error ${init})`);
  const outs = ringBuffers(OUT_BYTES);
  const outAt = outs.map((b) => lib.address(b));
  const it = input[Symbol.asyncIterator]();
  let slice: Uint8Array | null = null; // kept referenced while liblzma reads it
  let inputDone = false;
  let calls = 0;
  /** Start decoding into outs[k] on the thread pool; resolves with liblzma's return and the bytes produced. */
  const start = async (k: number): Promise<{ ret: number; produced: number }> => {
    if (v.getBigUint64(8, true) === 0n && !inputDone) {
      slice = null;
      for (;;) {
        const r = await it.next(); // the previous lent slice is used up (avail_in is 0)
        if (r.done) {
          inputDone = true;
          break;
        }
        if (r.value.length === 0) continue;
        slice = r.value;
        v.setBigUint64(0, lib.address(slice), true);
        v.setBigUint64(8, BigInt(slice.length), true);
        break;
      }
    }
    v.setBigUint64(24, outAt[k] ?? 0n, true);
    v.setBigUint64(32, BigInt(OUT_BYTES), true);
    const action = inputDone && v.getBigUint64(8, true) === 0n ? LZMA_FINISH : LZMA_RUN;
    // The first call allocates the decoder's dictionary (8 MiB for xz -6): make it on this thread, so it lands in the
    // main malloc arena rather than in a thread-pool thread's own arena, which would keep it resident beside the rest.
    const ret = calls++ === 0
      ? lib.code(strm, action)
      : await new Promise<number>((resolve, reject) => {
        lib.code.async(strm, action, (err: Error | null, r: number) => (err ? reject(err) : resolve(r)));
      });
    return { ret, produced: OUT_BYTES - Number(v.getBigUint64(32, true)) };
  };
  const step = async (k: number): Promise<DecodeStep> => {
    const { ret, produced } = await start(k);
    // A cut-short file: liblzma answers LZMA_BUF_ERROR once LZMA_FINISH can make no more progress.
    if (ret !== LZMA_OK && ret !== LZMA_STREAM_END) throw fail(ret);
    return { produced, more: ret === LZMA_OK };
  };
  yield* decodeRing(outs, step, async () => {
    lib.end(strm);
    slice = null;
    await it.return?.();
  });
}
