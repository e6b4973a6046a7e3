// Read-back verification with O_DIRECT: every written region hashed again and compared with the SHA-256 taken while
// writing; zeroed regions checked for zeros (naming the first differing byte).
import { createHash } from 'node:crypto';
import type { BlockIo } from '../../contracts/links.js';
import { FlashError } from '../../contracts/errors.js';
import type { Region } from './write.js';
import { WRITE_BYTES } from './write.js';

export interface VerifyOptions {
  /** Reads in flight at once (default 4). */
  inFlight?: number;
  signal?: AbortSignal;
  /** Called after each piece with the bytes checked so far and the total. */
  progress?: (done: number, total: number) => void;
  /** Pause point between reads. */
  gate?: () => Promise<void>;
}

interface Piece {
  region: Region;
  offset: number;
  length: number;
}

/** Check that the disk holds what the regions say; throws `verify_mismatch` naming the offset. */
export async function verifyRegions(io: BlockIo, regions: readonly Region[], o: VerifyOptions = {}): Promise<void> {
  const pieces: Piece[] = [];
  for (const r of regions) {
    if (r.sha256 !== undefined) pieces.push({ region: r, offset: r.offset, length: r.length });
    else for (let at = r.offset; at < r.offset + r.length; at += WRITE_BYTES) pieces.push({ region: r, offset: at, length: Math.min(WRITE_BYTES, r.offset + r.length - at) });
  }
  const total = pieces.reduce((s, p) => s + p.length, 0);
  const inFlight = Math.max(1, o.inFlight ?? 4);
  const free: Uint8Array[] = [];
  let biggest = 0;
  for (const p of pieces) biggest = Math.max(biggest, p.length);
  const zeros = new Uint8Array(Math.min(biggest, WRITE_BYTES));
  const queue: Array<{ piece: Piece; buf: Uint8Array; read: Promise<number> }> = [];
  let next = 0;
  let done = 0;
  const start = (): void => {
    const piece = pieces[next++];
    if (!piece) return;
    const buf = (free.pop() ?? io.alloc(biggest)).subarray(0, piece.length);
    const read = io.read(piece.offset, buf, o.signal);
    read.catch(() => undefined);
    queue.push({ piece, buf, read });
  };
  try {
    while (queue.length < inFlight && next < pieces.length) start();
    while (queue.length > 0) {
      const item = queue.shift();
      if (!item) break;
      const n = await item.read;
      const { piece, buf } = item;
      if (n < piece.length) {
        throw new FlashError('verify_mismatch', `${io.path} returned ${n} of ${piece.length} bytes at byte ${piece.offset} when read back: the disk is smaller than it says (a fake-capacity card?)`,
          { detail: `byte offset ${piece.offset + n}` });
      }
      if (piece.region.sha256 !== undefined) {
        if (createHash('sha256').update(buf).digest('hex') !== piece.region.sha256) {
          throw new FlashError('verify_mismatch',
            `${io.path} does not hold what was written in bytes ${piece.offset}–${piece.offset + piece.length - 1}: the card may be failing or fake — try another card`,
            { detail: `byte offset ${piece.offset}` });
        }
      } else if (Buffer.compare(buf, zeros.subarray(0, buf.length)) !== 0) {
        const at = piece.offset + buf.findIndex((b) => b !== 0);
        throw new FlashError('verify_mismatch',
          `${io.path} does not read back as zeros at byte ${at}, where zeros were written: the card may be failing or fake — try another card`,
          { detail: `byte offset ${at}` });
      }
      free.push(new Uint8Array(buf.buffer, buf.byteOffset, biggest));
      done += piece.length;
      o.progress?.(done, total);
      if (o.gate) await o.gate();
      o.signal?.throwIfAborted();
      start();
    }
  } finally {
    await Promise.allSettled(queue.map((q) => q.read));
  }
}
