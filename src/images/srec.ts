// Motorola S-record: parse and validate record by record (checksums, byte counts, overlaps), and write.
import { FlashError } from '../contracts/errors.js';
import { SegmentBuilder, hexBytes, toHex, type AddressedImage, type Segment } from './addressed.js';

const ADDRESS_BYTES: Record<string, number> = { '0': 2, '1': 2, '2': 3, '3': 4, '5': 2, '6': 3, '7': 4, '8': 3, '9': 2 };

/** Parse an S-record file (S19/S28/S37). Throws FlashError `image_invalid` naming the line for any bad record. */
export function parseSrec(input: string | Uint8Array, name = 'S-record file'): AddressedImage {
  const text = typeof input === 'string' ? input : new TextDecoder('latin1').decode(input);
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const segments = new SegmentBuilder(name);
  let entry: number | undefined;
  let dataRecords = 0;
  let ended = false;
  for (let i = 0; i < lines.length; i++) {
    const raw = (lines[i] ?? '').trim();
    const where = `line ${i + 1}`;
    if (raw === '') continue;
    if (ended) throw new FlashError('image_invalid', `${name}: ${where}: data after the termination record`);
    const kind = raw[1] ?? '';
    const width = ADDRESS_BYTES[kind];
    if (raw[0] !== 'S' || width === undefined) throw new FlashError('image_invalid', `${name}: ${where}: not an S-record (S0-S3, S5-S9)`);
    const bytes = hexBytes(raw.slice(2));
    if (!bytes || bytes.length < 1) throw new FlashError('image_invalid', `${name}: ${where}: not a record of hex digit pairs`);
    const count = bytes[0] ?? 0;
    if (bytes.length !== count + 1 || count < width + 1) {
      throw new FlashError('image_invalid', `${name}: ${where}: the record says ${count} bytes follow but holds ${bytes.length - 1}`);
    }
    let sum = 0;
    for (let k = 0; k < bytes.length - 1; k++) sum = (sum + (bytes[k] ?? 0)) & 0xff;
    const check = bytes[bytes.length - 1] ?? 0;
    if ((~sum & 0xff) !== check) {
      throw new FlashError('image_invalid', `${name}: ${where}: checksum is 0x${toHex([check])}, the record adds up to 0x${toHex([~sum & 0xff])}: the file is damaged`);
    }
    let address = 0;
    for (let k = 0; k < width; k++) address = address * 256 + (bytes[1 + k] ?? 0);
    const data = bytes.subarray(1 + width, bytes.length - 1);
    switch (kind) {
      case '0':
        break;
      case '1':
      case '2':
      case '3':
        segments.add(address, data, where);
        dataRecords++;
        break;
      case '5':
      case '6':
        if (address !== dataRecords) {
          throw new FlashError('image_invalid', `${name}: ${where}: the count record says ${address} data records, the file has ${dataRecords}: records are missing`);
        }
        break;
      default:
        entry = address;
        ended = true;
    }
  }
  return segments.build('srec', entry);
}

/** Write segments as S-records (S3, 32-bit addresses) with an S7 termination record. */
export function writeSrec(segments: readonly Segment[], options: { perLine?: number; entry?: number } = {}): string {
  const perLine = options.perLine ?? 32;
  const rec = (type: string, address: number, width: number, data: ArrayLike<number>): string => {
    const addr: number[] = [];
    for (let k = width - 1; k >= 0; k--) addr.push(Math.floor(address / 256 ** k) & 0xff);
    const body = [width + data.length + 1, ...addr, ...Array.from(data)];
    const sum = body.reduce((a, b) => (a + b) & 0xff, 0);
    return `S${type}${toHex(body)}${toHex([~sum & 0xff])}`;
  };
  const lines = [rec('0', 0, 2, [0x66, 0x73])];
  let count = 0;
  for (const s of segments) {
    for (let at = 0; at < s.bytes.length; at += perLine) {
      lines.push(rec('3', s.address + at, 4, s.bytes.subarray(at, Math.min(s.bytes.length, at + perLine))));
      count++;
    }
  }
  if (count < 0x10000) lines.push(rec('5', count, 2, []));
  lines.push(rec('7', options.entry ?? 0, 4, []));
  return `${lines.join('\n')}\n`;
}
