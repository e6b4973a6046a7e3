// bmaptool .bmap files: which block ranges of a raw image are mapped; the rest may be skipped.
import { readFile } from 'node:fs/promises';
import { FlashError } from '../contracts/errors.js';
import type { ByteRange } from './raw-source.js';

/** Parse a bmap (XML) into mapped byte ranges of an image of `imageSize` bytes, sorted and merged. */
export function parseBmap(xml: string, imageSize: number, what = 'bmap'): ByteRange[] {
  const tag = (name: string): string | undefined => new RegExp(`<${name}>\\s*([^<]*?)\\s*</${name}>`).exec(xml)?.[1];
  const bs = Number(tag('BlockSize'));
  if (!Number.isSafeInteger(bs) || bs <= 0) throw new FlashError('image_invalid', `${what}: no valid <BlockSize>`);
  const declared = tag('ImageSize');
  if (declared !== undefined && Number(declared) !== imageSize) {
    throw new FlashError('image_invalid', `${what} describes an image of ${declared} bytes, but the image has ${imageSize}: wrong .bmap file`);
  }
  const ranges: ByteRange[] = [];
  const re = /<Range[^>]*>\s*(\d+)(?:\s*-\s*(\d+))?\s*<\/Range>/g;
  for (let m = re.exec(xml); m; m = re.exec(xml)) {
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    if (last < first) throw new FlashError('image_invalid', `${what}: range ${m[0]} is backwards`);
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
  let xml: string;
  try {
    xml = await readFile(path, 'utf8');
  } catch (e) {
    throw new FlashError('image_not_found', `bmap file ${path} cannot be read: ${(e as Error).message}`, { cause: e });
  }
  return parseBmap(xml, imageSize, path);
}
