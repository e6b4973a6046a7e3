// bmaptool .bmap files: which block ranges of a raw image are mapped; the rest may be skipped.
import { FlashError } from '../contracts/errors.js';
import type { ByteRange } from './raw-source.js';
import { readSmallFile } from './small-file.js';

/** The largest .bmap read: bmaptool writes one line per mapped range, a few hundred KiB for a fragmented disk. */
export const MAX_BMAP_BYTES = 16 << 20;

/** Parse a bmap (XML) into mapped byte ranges of an image of `imageSize` bytes, sorted and merged. */
export function parseBmap(xml: string, imageSize: number, what = 'bmap'): ByteRange[] {
  const tag = (name: string): string | undefined => new RegExp(`<${name}>\\s*([^<]*?)\\s*</${name}>`).exec(xml)?.[1];
  const bs = Number(tag('BlockSize'));
  if (!Number.isSafeInteger(bs) || bs <= 0) throw new FlashError('image_invalid', `${what}: no valid <BlockSize>`);
  const declared = tag('ImageSize');
  if (declared !== undefined && !/^\d+$/.test(declared)) throw new FlashError('image_invalid', `${what}: no valid <ImageSize>`);
  if (declared !== undefined && Number(declared) !== imageSize) {
    // Only digits get here: the message quotes nothing else from the file.
    throw new FlashError('image_invalid', `${what} describes an image of ${declared} bytes, but the image has ${imageSize}: wrong .bmap file`);
  }
  const ranges: ByteRange[] = [];
  const re = /<Range[^>]*>\s*(\d+)(?:\s*-\s*(\d+))?\s*<\/Range>/g;
  for (let m = re.exec(xml); m; m = re.exec(xml)) {
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    if (last < first) throw new FlashError('image_invalid', `${what}: range ${first}-${last} is backwards`);
    const start = first * bs;
    const end = Math.min((last + 1) * bs, imageSize);
    if (start >= imageSize) throw new FlashError('image_invalid', `${what}: range ${first}-${last} lies beyond the image`);
    ranges.push({ start, end });
  }
  ranges.sort((a, b) => a.start - b.start);
  const merged: ByteRange[] = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last && r.start <= last.end) last.end = Math.max(last.end, r.end);
    else merged.push({ ...r });
  }
  return merged;
}

export async function loadBmap(path: string, imageSize: number): Promise<ByteRange[]> {
  // A regular file of bounded size only: a FIFO or /dev/zero standing as the .bmap must not stall or fill the station.
  const xml = await readSmallFile(path, { maxBytes: MAX_BMAP_BYTES, what: 'a .bmap file' });
  return parseBmap(xml, imageSize, path);
}
