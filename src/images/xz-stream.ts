// xz decompression on liblzma through lzma-native's native stream, driven directly: one input slice in flight on the
// thread pool, input slices sized so one slice expands to about 2 MiB (bounded memory on runs of zeros).
// (lzma-native's own Transform splits input at every "YZ" byte pair, which costs a thread-pool trip per ~64 KiB.)
import { createRequire } from 'node:module';
import { FlashError } from '../core/errors.js';

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
const MIN_FEED = 4 << 10;
const MAX_FEED = 256 << 10;

export async function* xzDecompress(input: AsyncIterable<Uint8Array>, what: string): AsyncGenerator<Uint8Array> {
  lzma ??= require('lzma-native') as Lzma;
  const s = new lzma.Stream();
  s.autoDecoder({ flags: lzma.CONCATENATED });
  s.setBufsize(OUT_BYTES);
  const out: Buffer[] = [];
  let acked = 0;
  let ended = false;
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  s.bufferHandler = (buf, processed, err) => {
    if (err) failure = err;
    else if (typeof processed === 'number') acked += processed;
    else if (buf === null) ended = true;
    else if (buf) out.push(buf);
    wake?.();
    wake = null;
  };
  const it = input[Symbol.asyncIterator]();
  let pending: Uint8Array = new Uint8Array(0);
  let inputDone = false;
  let sent = 0;
  let finishSent = false;
  let feed = 64 << 10;
  let lastOut = 0;
  try {
    for (;;) {
      while (out.length > 0) {
        const b = out.shift();
        if (b) {
          lastOut += b.length;
          yield b;
        }
      }
      if (failure) throw failure;
      if (ended) return;
      if (sent === acked) {
        // the previous slice is done: adapt the next slice to how much the last one expanded
        if (sent > 0) {
          const ratio = Math.max(1, lastOut / feed);
          feed = Math.min(MAX_FEED, Math.max(MIN_FEED, Math.floor(TARGET_OUT / ratio)));
        }
        lastOut = 0;
        while (pending.length === 0 && !inputDone) {
          const r = await it.next();
          if (r.done) inputDone = true;
          else pending = r.value;
        }
        if (pending.length > 0) {
          const n = Math.min(feed, pending.length);
          s.code(pending.subarray(0, n), true);
          pending = pending.subarray(n);
          sent++;
        } else if (!finishSent) {
          s.code(null, true);
          finishSent = true;
          sent++;
        }
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
