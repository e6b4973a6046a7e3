// Intel HEX and S-record files opened as images: validated record by record when opened (a bad checksum is refused
// before any job exists), and counted by the data bytes their records carry — what travels to the device — rather
// than by their text, so a job's totalBytes and progress are in image bytes as for any other image.
import { FlashError } from '../contracts/errors.js';
import type { BlockSource } from '../contracts/source.js';
import { formatBytes } from '../protocol/units.js';
import type { AddressedImage } from './addressed.js';
import type { ByteSource } from './byte-source.js';
import { parseIntelHex } from './intel-hex.js';
import { parseSrec } from './srec.js';

/** Text images larger than this are not MCU firmware; they are left to open as raw files. */
export const MAX_ADDRESSED_TEXT = 64 * 1024 * 1024;

const LABEL = { ihex: 'Intel HEX', srec: 'S-record' } as const;

/** Parses the whole text of `bs` (a file: random access, known size); throws `image_invalid` naming the line. */
export async function parseAddressed(bs: ByteSource, format: 'ihex' | 'srec', name: string, signal?: AbortSignal): Promise<AddressedImage> {
  if (!bs.readAt || bs.size === undefined) throw new FlashError('internal', `${name}: an addressed image is read from a file`);
  const text = await bs.readAt(0, bs.size, signal);
  const image = format === 'ihex' ? parseIntelHex(text, name) : parseSrec(text, name);
  if (image.segments.length === 0) throw new FlashError('image_invalid', `${name} holds no data records`);
  return image;
}

/**
 * The file's text as it is (drivers that take addressed images read the records themselves), with `dataBytes` the
 * records' data bytes (exact) and a description that says the format, the data size and where it starts.
 */
export function addressedSource(text: BlockSource, image: AddressedImage, name: string): BlockSource {
  const first = image.segments[0]?.address ?? 0;
  const last = image.segments.at(-1);
  const end = last ? last.address + last.bytes.length : first;
  const hex = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;
  const gaps = image.segments.length > 1 ? `, ${image.segments.length} segments` : '';
  const description = `${name} (${LABEL[image.format]}, ${formatBytes(image.dataBytes)} at ${hex(first)}-${hex(end - 1)}${gaps})`;
  const source: BlockSource = {
    size: text.size,
    dataBytes: image.dataBytes,
    exact: true,
    description,
    blockSize: text.blockSize,
    reopenable: text.reopenable,
    chunks: (signal) => text.chunks(signal),
    sha256: () => text.sha256(),
    get hashStarted() {
      return text.hashStarted;
    },
    ...(text.readAt ? { readAt: (offset: number, length: number, signal?: AbortSignal) => text.readAt!(offset, length, signal) } : {}),
    ...(text.unchanged ? { unchanged: () => text.unchanged!() } : {}),
  };
  return source;
}
