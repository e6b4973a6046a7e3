// The verify step: read the partition back with `fetch:` (userspace fastbootd) and compare it with the image.
import type { BlockSource, Chunk } from '../../contracts/source.js';
import type { JobContext } from '../../contracts/family.js';
import { FlashError, isFlashError } from '../../contracts/errors.js';
import { parseNumber } from './protocol.js';
import type { Session } from './session.js';

const DEFAULT_FETCH = 64 * 1024 * 1024;

/** `fetch:P:0x%08x:0x%08x` as AOSP formats it. */
export function formatFetch(partition: string, offset: number, size: number): string {
  return `fetch:${partition}:0x${offset.toString(16).padStart(8, '0')}:0x${size.toString(16).padStart(8, '0')}`;
}

export async function runVerify(session: Session, partition: string, source: BlockSource, ctx: JobContext): Promise<void> {
  const client = session.client;
  const maxFetch = Math.min(parseNumber(await client.getvar('max-fetch-size', ctx.signal)) ?? DEFAULT_FETCH, DEFAULT_FETCH);
  ctx.stage(`Verifying ${partition}`);
  for await (const chunk of source.chunks(ctx.signal)) {
    if (chunk.kind === 'skip') continue;
    const length = chunk.kind === 'data' ? chunk.bytes.length : chunk.length;
    for (let off = 0; off < length; off += maxFetch) {
      const n = Math.min(maxFetch, length - off);
      const got = await fetchRange(session, partition, chunk.offset + off, n, ctx.signal);
      const bad = firstDifference(chunk, off, got);
      if (bad >= 0) {
        throw new FlashError('verify_mismatch', `${partition} differs from ${source.description} at byte ${chunk.offset + off + bad}`);
      }
    }
  }
  ctx.log('info', `${partition} matches ${source.description}`);
}

async function fetchRange(session: Session, partition: string, offset: number, size: number, signal: AbortSignal): Promise<Uint8Array> {
  const command = formatFetch(partition, offset, size);
  let r;
  try {
    r = await session.client.send(command, { signal });
  } catch (e) {
    if (isFlashError(e) && e.code === 'device_rejected') {
      throw new FlashError('unsupported', `The device cannot read ${partition} back (${e.message}); verify needs userspace fastbootd with fetch`);
    }
    throw e;
  }
  if (r.kind !== 'DATA' || r.size !== size) {
    throw new FlashError('protocol_error', `The device answered "${command}" without DATA of ${size} bytes`);
  }
  const out = new Uint8Array(size);
  let at = 0;
  await session.client.receiveData(command, size, (b) => {
    out.set(b.subarray(0, size - at), at);
    at += b.length;
  }, signal);
  return out;
}

/** Index in `got` of the first byte that differs from `chunk` starting `off` bytes into it, or -1. */
export function firstDifference(chunk: Exclude<Chunk, { kind: 'skip' }>, off: number, got: Uint8Array): number {
  if (chunk.kind === 'data') {
    for (let i = 0; i < got.length; i++) if (got[i] !== chunk.bytes[off + i]) return i;
    return -1;
  }
  const word = [chunk.value & 0xff, (chunk.value >>> 8) & 0xff, (chunk.value >>> 16) & 0xff, (chunk.value >>> 24) & 0xff];
  for (let i = 0; i < got.length; i++) if (got[i] !== word[(off + i) & 3]) return i;
  return -1;
}
