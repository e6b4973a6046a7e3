// zstd decompression straight on libzstd's streaming context (zstd-napi's binding): one reused 1 MiB output buffer
// (slices are lent, see ByteSource), no Node stream machinery in between, and the event loop given a turn every few MiB.
import { createRequire } from 'node:module';
import { FlashError } from '../contracts/errors.js';

const require = createRequire(import.meta.url);

interface DCtx {
  decompressStream(dst: Uint8Array, src: Uint8Array): [ret: number, produced: number, consumed: number];
}
interface Binding {
  DCtx: new () => DCtx;
}
let binding: Binding | null = null;

const OUT_BYTES = 1 << 20;
const YIELD_EVERY = 16 << 20;

export async function* zstdDecompress(input: AsyncIterable<Uint8Array>, what: string): AsyncGenerator<Uint8Array> {
  binding ??= require('zstd-napi/binding.js') as Binding;
  const dctx = new binding.DCtx();
  const out = Buffer.allocUnsafe(OUT_BYTES);
  let fill = 0;
  let inFrame = false;
  let sinceTurn = 0;
  for await (const slice of input) {
    let src = slice;
    for (;;) {
      let r: [number, number, number];
      try {
        r = dctx.decompressStream(out.subarray(fill), src);
      } catch (e) {
        const msg = (e as Error).message;
        if (/memory|window/i.test(msg)) {
          throw new FlashError('image_invalid', `${what}: the zstd stream needs a window larger than 128 MiB (made with --long?): ` +
            'recompress it without --long, or unpack it first', { cause: e });
        }
        throw new FlashError('image_invalid', `${what}: the zstd stream is corrupt (${msg}) — download the image again`, { cause: e });
      }
      const [ret, produced, consumed] = r;
      fill += produced;
      src = src.subarray(consumed);
      if (consumed > 0 || produced > 0) inFrame = ret !== 0; // an idle call after a frame hints at the next header
      if (fill === out.length) {
        yield out; // lent: refilled once the consumer asks for more
        sinceTurn += out.length;
        fill = 0;
        if (sinceTurn >= YIELD_EVERY) {
          sinceTurn = 0;
          await new Promise<void>((res) => setImmediate(res));
        }
        continue;
      }
      if (src.length === 0) break;
    }
  }
  if (fill > 0) yield out.subarray(0, fill);
  if (inFrame) {
    throw new FlashError('image_invalid', `${what}: the zstd stream is truncated (it ends in the middle of a frame) — download the image again`);
  }
}
