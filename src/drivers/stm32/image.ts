// What an STM32 step writes: a raw image at an address, or an Intel HEX / S-record file at its own addresses.
import { FlashError } from '../../contracts/errors.js';
import type { BlockSource } from '../../contracts/source.js';
import { sniffAddressed, type Segment } from '../../images/addressed.js';
import { parseIntelHex } from '../../images/intel-hex.js';
import { parseSrec } from '../../images/srec.js';
import { FLASH_BASE } from './chips.js';

/** Text images larger than this are not MCU firmware. */
const MAX_TEXT_IMAGE = 64 * 1024 * 1024;
/** Raw images are read into memory (MCU flash is at most a few MiB). */
const MAX_RAW_IMAGE = 16 * 1024 * 1024;

export interface WriteImage {
  segments: Segment[];
  /** Bytes to write. */
  dataBytes: number;
  format: 'raw' | 'ihex' | 'srec';
  entry?: number;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

/** Read a source into segments: HEX/S-record by content, else raw bytes at `address` (skips stay gaps). */
export async function loadImage(source: BlockSource, address: number | undefined, signal?: AbortSignal): Promise<WriteImage> {
  const parts: { offset: number; bytes: Uint8Array }[] = [];
  let head: Uint8Array | undefined;
  let total = 0;
  for await (const chunk of source.chunks(signal)) {
    if (chunk.kind === 'skip') continue;
    let bytes: Uint8Array;
    if (chunk.kind === 'fill') {
      bytes = new Uint8Array(chunk.length);
      new DataView(bytes.buffer).setUint32(0, chunk.value, true);
      for (let i = 4; i < bytes.length; i++) bytes[i] = bytes[i - 4] ?? 0;
      if (chunk.length < 4) for (let i = 0; i < chunk.length; i++) bytes[i] = (chunk.value >>> (8 * i)) & 0xff;
    } else {
      bytes = chunk.bytes.slice();
    }
    head ??= bytes;
    total += bytes.length;
    if (total > MAX_TEXT_IMAGE) throw new FlashError('image_too_large', `${source.description} is ${total} bytes or more: too large for a microcontroller's flash`);
    parts.push({ offset: chunk.offset, bytes });
  }
  const format = head && parts[0]?.offset === 0 ? sniffAddressed(head) : undefined;
  if (format) {
    const text = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      text.set(p.bytes, at);
      at += p.bytes.length;
    }
    const image = format === 'ihex' ? parseIntelHex(text, source.description) : parseSrec(text, source.description);
    if (image.segments.length === 0) throw new FlashError('image_invalid', `${source.description} holds no data records`);
    const first = image.segments[0]?.address ?? 0;
    if (address !== undefined && address !== FLASH_BASE && address !== first) {
      throw new FlashError('bad_request', `${source.description} carries its own addresses (from ${hex(first)}): flash it without an address, or with ${hex(first)}`);
    }
    return { segments: image.segments, dataBytes: image.dataBytes, format, ...(image.entry !== undefined ? { entry: image.entry } : {}) };
  }
  if (source.size > MAX_RAW_IMAGE) throw new FlashError('image_too_large', `${source.description} is ${source.size} bytes: too large for a microcontroller's flash`);
  const base = address ?? FLASH_BASE;
  const segments = parts.map((p) => ({ address: base + p.offset, bytes: p.bytes }));
  return { segments, dataBytes: segments.reduce((n, s) => n + s.bytes.length, 0), format: 'raw' };
}

/** Refuse, before anything is erased, an image that does not lie wholly in the flash. */
export function checkBounds(image: WriteImage, flashSize: number, description: string): void {
  const end = FLASH_BASE + flashSize;
  for (const s of image.segments) {
    if (s.address < FLASH_BASE || s.address >= end) {
      throw new FlashError('target_unsupported', `${description}: address ${hex(s.address)} is outside the flash (${hex(FLASH_BASE)}-${hex(end - 1)})`);
    }
    if (s.address + s.bytes.length > end) {
      throw new FlashError('image_too_large', `${description}: data from ${hex(s.address)} runs ${s.address + s.bytes.length - end} bytes past the end of the ${flashSize / 1024} KiB flash (${hex(end)})`);
    }
  }
}

/**
 * Blocks for Write Memory: one per 256-byte aligned window that holds data, trimmed to the data's 4-aligned span.
 * Bytes inside a block that no record gives are 0xFF (programming 0xFF leaves erased flash as it is).
 */
export function writeBlocks(segments: readonly Segment[], size = 256): Segment[] {
  const windows = new Map<number, { bytes: Uint8Array; lo: number; hi: number }>();
  for (const s of segments) {
    let at = 0;
    while (at < s.bytes.length) {
      const address = s.address + at;
      const base = address - (address % size);
      const n = Math.min(s.bytes.length - at, base + size - address);
      let w = windows.get(base);
      if (!w) {
        w = { bytes: new Uint8Array(size).fill(0xff), lo: size, hi: 0 };
        windows.set(base, w);
      }
      w.bytes.set(s.bytes.subarray(at, at + n), address - base);
      w.lo = Math.min(w.lo, address - base);
      w.hi = Math.max(w.hi, address - base + n);
      at += n;
    }
  }
  return [...windows.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([base, w]) => {
      const lo = w.lo - (w.lo % 4);
      const hi = Math.min(size, w.hi + ((4 - (w.hi % 4)) % 4));
      return { address: base + lo, bytes: w.bytes.subarray(lo, hi) };
    });
}
