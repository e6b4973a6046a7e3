// xz decompression: the system's liblzma through koffi (xz-liblzma.ts) where there is one; else liblzma 5.2 bundled in
// lzma-native, its native stream driven directly: one input slice at a time on the
// thread pool, each sized so it expands to about 2 MiB (bounded memory on runs of zeros).
// (lzma-native's own Transform splits input at every "YZ" byte pair, which costs a thread-pool trip per ~64 KiB.)
import { createRequire } from 'node:module';
import { FlashError } from '../contracts/errors.js';
import { liblzmaDecompress, systemLiblzma } from './xz-liblzma.js';

const require = createRequire(import.meta.url);

type Handler = (buf: Buffer | null | undefined, processed: number | undefined, err: Error | null | undefined) => void;
interface NativeStream {
  autoDecoder(options: { flags?: number; memlimit?: number }): void;
  setBufsize(n: number): number;
  code(chunk: Uint8Array | null, async: boolean): void;
  resetUnderlying(): void;
  bufferHandler: Handler;
}
interface Lzma {
  Stream: new () => NativeStream;
  CONCATENATED: number;
}
let lzma: Lzma | null = null;

const OUT_BYTES = 1 << 20;
/** Aim for about this much output per input slice. */
const TARGET_OUT = 2 << 20;
/** xz of zeros expands over 1000:1, so slices can be this small. */
const MIN_FEED = 256;
const MAX_FEED = 256 << 10;
/**
 * Slices queued on the native stream at once: one. A second queued job can find its input already taken by the first
 * and call liblzma with none, which liblzma answers with LZMA_BUF_ERROR ("no progress is possible").
 */
const IN_FLIGHT = 1;

/** The decompressed bytes of an xz stream: on the system's liblzma where there is one, else on lzma-native's. */
export async function* xzDecompress(input: AsyncIterable<Uint8Array>, what: string): AsyncGenerator<Uint8Array> {
  const system = systemLiblzma();
  if (system) yield* liblzmaDecompress(system, input, what);
  else yield* lzmaNativeDecompress(input, what);
}

/** lzma-native's liblzma 5.2 (where the system has no liblzma, or FLASH_STATION_XZ=lzma-native). */
export async function* lzmaNativeDecompress(input: AsyncIterable<Uint8Array>, what: string): AsyncGenerator<Uint8Array> {
  lzma ??= require('lzma-native') as Lzma;
  const s = new lzma.Stream();
  s.autoDecoder({ flags: lzma.CONCATENATED });
  s.setBufsize(OUT_BYTES);
  const out: Buffer[] = [];
  let acked = 0;
  let ended = false;
  // Set from the stream's callback: typed so that the checks below do not narrow it to null.
  let failure = null as Error | null;
  let wake: (() => void) | null = null;
  // Expansion ratio seen lately: input bytes acknowledged and output bytes received, halved as they grow.
  const fedSizes: number[] = [];
  let inSeen = 0;
  let outSeen = 0;
  s.bufferHandler = (buf, processed, err) => {
    if (err) failure = err;
    else if (typeof processed === 'number') {
      acked += processed;
      for (let k = 0; k < processed; k++) inSeen += fedSizes.shift() ?? 0;
    } else if (buf === null) ended = true;
    else if (buf) {
      out.push(buf);
      outSeen += buf.length;
    }
    if (inSeen > 8 << 20) {
      inSeen /= 2;
      outSeen /= 2;
    }
    wake?.();
    wake = null;
  };
  const it = input[Symbol.asyncIterator]();
  let pending: Uint8Array = new Uint8Array(0);
  let inputDone = false;
  let sent = 0;
  let finishSent = false;
  try {
    for (;;) {
      while (out.length > 0) {
        const b = out.shift();
        if (b) yield b;
      }
      if (failure) throw failure;
      if (ended) return;
      while (sent - acked < IN_FLIGHT && !finishSent) {
        const ratio = inSeen > 0 ? Math.max(1, outSeen / inSeen) : 8;
        const feed = Math.min(MAX_FEED, Math.max(MIN_FEED, Math.floor(TARGET_OUT / ratio)));
        while (pending.length === 0 && !inputDone) {
          const r = await it.next();
          if (r.done) inputDone = true;
          else pending = r.value;
        }
        if (pending.length > 0) {
          const n = Math.min(feed, pending.length);
          s.code(pending.subarray(0, n), true); // copies the input: the lent slice may be refilled after this
          fedSizes.push(n);
          pending = pending.subarray(n);
        } else {
          s.code(null, true);
          fedSizes.push(0);
          finishSent = true;
        }
        sent++;
      }
      if (out.length === 0 && !failure && !ended) await new Promise<void>((res) => (wake = res));
    }
  } catch (e) {
    const msg = (e as Error).message;
    const truncated = /no progress is possible|unexpected end/i.test(msg);
    throw new FlashError('image_invalid', `${what}: the xz stream is ${truncated ? 'truncated' : 'corrupt'} (${msg}) — download the image again`, { cause: e });
  } finally {
    await it.return?.();
  }
}
