// Flash, verify and erase steps on an ESP session: checks first, then compressed blocks with pause, throttle,
// cancel and progress at block boundaries, and an MD5 check of every region.
import { createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { FlashError } from '../../contracts/errors.js';
import type { JobContext } from '../../contracts/family.js';
import type { Transport } from '../../contracts/links.js';
import type { BlockSource } from '../../contracts/source.js';
import { bootloaderOffset } from './chips.js';
import { checkImageChip } from './image.js';
import { espError, type EspSession } from './session.js';

export const SECTOR = 0x1000;
const ERASE_REGION = 0xd1;

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** The whole image in memory (ESP flash is at most 16 MiB); holes read as erased flash. */
export async function readSource(source: BlockSource, signal?: AbortSignal): Promise<Uint8Array> {
  if (source.size > 0x1000000) throw new FlashError('image_too_large', `${source.description} is larger than any ESP flash (16 MiB)`);
  const out = new Uint8Array(source.size).fill(0xff);
  for await (const c of source.chunks(signal)) {
    if (c.kind === 'data') out.set(c.bytes, c.offset);
    else if (c.kind === 'fill') {
      const word = new Uint8Array(4);
      new DataView(word.buffer).setUint32(0, c.value >>> 0, true);
      for (let i = 0; i < c.length; i += 4) out.set(word, c.offset + i);
    }
  }
  return out;
}

/** Address and size checks every write and erase passes before a byte moves. */
export function checkRegion(s: EspSession, address: number, length: number, what: string): void {
  if (!Number.isInteger(address) || address < 0) throw new FlashError('bad_request', `${what}: address ${address} is not a flash offset`);
  if (address % SECTOR !== 0) {
    throw new FlashError('bad_request', `${what}: address ${hex(address)} is not on a 4 KiB flash sector boundary (ESP flash erases in 4 KiB sectors); use a multiple of 0x1000`);
  }
  if (address + length > s.flashSize) {
    throw new FlashError('image_too_large', `${what}: ${length} bytes at ${hex(address)} end at ${hex(address + length)}, past the end of the ${s.flashSize / 1048576} MiB flash`, {
      detail: `flash size ${s.flashSize}`,
    });
  }
}

function md5hex(bytes: Uint8Array): string {
  return createHash('md5').update(bytes).digest('hex');
}

/** Race an esptool-js call with the port going away, so an unplug is reported at once rather than after a timeout. */
async function watch<T>(t: Transport, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const gone = new Promise<never>((_, reject) => {
    timer = setInterval(() => {
      if (t.closed) reject(new FlashError('disconnected', 'The board went away', { transient: true }));
    }, 50);
  });
  try {
    return await Promise.race([p, gone]);
  } finally {
    clearInterval(timer);
  }
}

export interface WriteOptions {
  /** zlib level for the compressed transfer (default 9, as esptool). */
  level?: number;
}

export async function flashRegion(s: EspSession, t: Transport, address: number, source: BlockSource, ctx: JobContext, options: WriteOptions = {}): Promise<void> {
  const data = await readSource(source, ctx.signal);
  checkRegion(s, address, data.length, `Writing ${source.description}`);
  checkImageChip(data, address, s.chipName, bootloaderOffset(s.chipName));
  if (data.length === 0) return;
  // The loader writes whole 32-bit words: pad with erased flash, as esptool does.
  const image = data.length % 4 === 0 ? data : Uint8Array.from([...data, ...new Array<number>(4 - (data.length % 4)).fill(0xff)]);
  const compressed = deflateSync(image, { level: options.level ?? 9 });
  const loader = s.loader;
  const blockSize = loader.FLASH_WRITE_SIZE;
  let written = 0;
  let counted = 0;
  try {
    const blocks = await watch(t, loader.flashDeflBegin(image.length, compressed.length, address));
    for (let seq = 0; seq < blocks; seq++) {
      await ctx.gate.pass(ctx.signal);
      if (ctx.signal.aborted) throw new FlashError('cancelled', 'Cancelled');
      const block = compressed.subarray(seq * blockSize, Math.min(compressed.length, (seq + 1) * blockSize));
      await ctx.throttle.take(block.length, ctx.signal);
      const timeout = Math.max(3000, loader.timeoutPerMb(loader.ERASE_WRITE_TIMEOUT_PER_MB, blockSize * 4));
      await watch(t, loader.flashDeflBlock(block, seq, timeout));
      written += block.length;
      // Progress in image bytes: the share of the image this much of the compressed stream carries.
      const upTo = seq === blocks - 1 ? data.length : Math.floor((data.length * written) / compressed.length);
      if (upTo > counted) {
        ctx.moved(upTo - counted);
        counted = upTo;
      }
    }
    await watch(t, loader.flashDeflFinish(false));
    const flashMd5 = await watch(t, loader.flashMd5sum(address, image.length));
    if (flashMd5 !== md5hex(image)) {
      throw new FlashError('verify_mismatch', `Flash at ${hex(address)} does not hold what was written (MD5 ${flashMd5}, expected ${md5hex(image)}); retry, and replace the board if it repeats`);
    }
  } catch (e) {
    s.broken = true;
    const err = espError(e, t, `writing ${hex(address)}`);
    if (err.code === 'disconnected' || err.code === 'timeout') {
      throw new FlashError(err.code, `${err.message} (wrote ${counted} of ${data.length} bytes of ${source.description}; byte offset ${hex(address + counted)})`, {
        transient: true,
        cause: err,
        detail: `byte offset ${address + counted}`,
      });
    }
    throw err;
  }
}

export async function verifyRegion(s: EspSession, t: Transport, address: number, source: BlockSource, ctx: JobContext): Promise<void> {
  const data = await readSource(source, ctx.signal);
  checkRegion(s, address, data.length, `Verifying ${source.description}`);
  try {
    const flashMd5 = await watch(t, s.loader.flashMd5sum(address, data.length));
    if (flashMd5 !== md5hex(data)) {
      throw new FlashError('verify_mismatch', `Flash at ${hex(address)} differs from ${source.description} (MD5 ${flashMd5}, expected ${md5hex(data)})`);
    }
    ctx.moved(data.length);
  } catch (e) {
    s.broken = true;
    throw espError(e, t, `verifying ${hex(address)}`);
  }
}

/** Erase a region (sector-aligned) or, with `length` undefined and address 0, the whole chip. */
export async function eraseRegion(s: EspSession, t: Transport, address: number, length: number | undefined, ctx: JobContext): Promise<void> {
  const loader = s.loader;
  try {
    if (length === undefined) {
      ctx.stage(`Erasing the whole ${s.flashSize / 1048576} MiB flash`);
      await watch(t, loader.eraseFlash());
      return;
    }
    checkRegion(s, address, length, 'Erasing');
    if (length % SECTOR !== 0) throw new FlashError('bad_request', `Erasing: length ${hex(length)} is not a whole number of 4 KiB sectors`);
    const pkt = new Uint8Array(8);
    new DataView(pkt.buffer).setUint32(0, address, true);
    new DataView(pkt.buffer).setUint32(4, length, true);
    await watch(t, loader.checkCommand('erase region', ERASE_REGION, pkt, undefined, undefined, loader.timeoutPerMb(loader.ERASE_REGION_TIMEOUT_PER_MB, length)));
  } catch (e) {
    if (e instanceof FlashError && (e.code === 'bad_request' || e.code === 'image_too_large')) throw e;
    s.broken = true;
    throw espError(e, t, `erasing ${hex(address)}`);
  }
}
