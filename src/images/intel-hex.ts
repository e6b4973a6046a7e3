// Intel HEX: parse and validate record by record (checksums, types, overlaps), and write (tests, tools).
import { FlashError } from '../contracts/errors.js';
import { SegmentBuilder, hexBytes, toHex, type AddressedImage, type Segment } from './addressed.js';

/** Parse an Intel HEX file. Throws FlashError `image_invalid` naming the line for any bad record. */
export function parseIntelHex(input: string | Uint8Array, name = 'HEX file'): AddressedImage {
  const text = typeof input === 'string' ? input : new TextDecoder('latin1').decode(input);
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const segments = new SegmentBuilder(name);
  let upper = 0; // from type 04 (linear, << 16) or 02 (segment, << 4)
  let entry: number | undefined;
  let ended = false;
  for (let i = 0; i < lines.length; i++) {
    const raw = (lines[i] ?? '').trim();
    const where = `line ${i + 1}`;
    if (raw === '') continue;
    if (ended) throw new FlashError('image_invalid', `${name}: ${where}: data after the end-of-file record`);
    if (raw[0] !== ':') throw new FlashError('image_invalid', `${name}: ${where}: a record starts with ':' (this is not Intel HEX, or the file is damaged)`);
    const bytes = hexBytes(raw.slice(1));
    if (!bytes || bytes.length < 5) throw new FlashError('image_invalid', `${name}: ${where}: not a record of hex digit pairs`);
    const count = bytes[0] ?? 0;
    if (bytes.length !== count + 5) throw new FlashError('image_invalid', `${name}: ${where}: the record says ${count} data bytes but holds ${bytes.length - 5}`);
    let sum = 0;
    for (const b of bytes) sum = (sum + b) & 0xff;
    if (sum !== 0) {
      const expected = (0x100 - ((sum - (bytes[bytes.length - 1] ?? 0)) & 0xff)) & 0xff;
      throw new FlashError('image_invalid', `${name}: ${where}: checksum is 0x${toHex([bytes[bytes.length - 1] ?? 0])}, the record adds up to 0x${toHex([expected])}: the file is damaged`);
    }
    const offset = ((bytes[1] ?? 0) << 8) | (bytes[2] ?? 0);
    const type = bytes[3];
    const data = bytes.subarray(4, 4 + count);
    switch (type) {
      case 0x00:
        segments.add(upper + offset, data, where);
        break;
      case 0x01:
        if (count !== 0) throw new FlashError('image_invalid', `${name}: ${where}: the end-of-file record carries data`);
        ended = true;
        break;
      case 0x02:
        if (count !== 2) throw new FlashError('image_invalid', `${name}: ${where}: an extended segment address record holds 2 bytes`);
        upper = (((data[0] ?? 0) << 8) | (data[1] ?? 0)) * 16;
        break;
      case 0x04:
        if (count !== 2) throw new FlashError('image_invalid', `${name}: ${where}: an extended linear address record holds 2 bytes`);
        upper = (((data[0] ?? 0) << 24) | ((data[1] ?? 0) << 16)) >>> 0;
        break;
      case 0x03:
      case 0x05:
        if (count !== 4) throw new FlashError('image_invalid', `${name}: ${where}: a start address record holds 4 bytes`);
        entry = type === 0x05
          ? (((data[0] ?? 0) << 24) | ((data[1] ?? 0) << 16) | ((data[2] ?? 0) << 8) | (data[3] ?? 0)) >>> 0
          : (((data[0] ?? 0) << 8) | (data[1] ?? 0)) * 16 + (((data[2] ?? 0) << 8) | (data[3] ?? 0));
        break;
      default:
        throw new FlashError('image_invalid', `${name}: ${where}: unknown record type 0x${toHex([type ?? 0])}`);
    }
  }
  if (!ended) throw new FlashError('image_invalid', `${name}: no end-of-file record (:00000001FF): the file is cut short`);
  return segments.build('ihex', entry);
}

function record(type: number, offset: number, data: ArrayLike<number>): string {
  const body = [data.length, (offset >> 8) & 0xff, offset & 0xff, type, ...Array.from(data)];
  const sum = body.reduce((a, b) => (a + b) & 0xff, 0);
  return `:${toHex(body)}${toHex([(0x100 - sum) & 0xff])}`;
}

/** Write segments as Intel HEX (type 04 records for the upper address, `perLine` data bytes per record). */
export function writeIntelHex(segments: readonly Segment[], options: { perLine?: number; entry?: number } = {}): string {
  const perLine = options.perLine ?? 16;
  const lines: string[] = [];
  let upper = -1;
  for (const s of segments) {
    let at = 0;
    while (at < s.bytes.length) {
      const address = s.address + at;
      const hi = address >>> 16;
      if (hi !== upper) {
        lines.push(record(0x04, 0, [hi >> 8, hi & 0xff]));
        upper = hi;
      }
      const n = Math.min(perLine, s.bytes.length - at, 0x10000 - (address & 0xffff));
      lines.push(record(0x00, address & 0xffff, s.bytes.subarray(at, at + n)));
      at += n;
    }
  }
  if (options.entry !== undefined) {
    const e = options.entry;
    lines.push(record(0x05, 0, [e >>> 24, (e >>> 16) & 0xff, (e >>> 8) & 0xff, e & 0xff]));
  }
  lines.push(':00000001FF');
  return `${lines.join('\n')}\n`;
}
