// ESP image checks before writing (magic, chip id in the extended header) and the partition table at 0x8000.
import { FlashError } from '../../contracts/errors.js';
import { IMAGE_CHIP_ID } from './chips.js';

export const IMAGE_MAGIC = 0xe9;
export const PARTITION_TABLE_OFFSET = 0x8000;
export const PARTITION_TABLE_SIZE = 0xc00;

const CHIP_BY_ID = new Map(Object.entries(IMAGE_CHIP_ID).map(([name, id]) => [id, name]));

/**
 * The chip an ESP32-family image was built for: the u16 at offset 12 of its header, when the header looks like one
 * (magic 0xE9, a plausible segment count). Undefined for other data (a partition table, a file system, an ESP8266 image).
 */
export function imageChipId(image: Uint8Array, at = 0): number | undefined {
  if (image.length < at + 24 || image[at] !== IMAGE_MAGIC) return undefined;
  const segments = image[at + 1] ?? 0;
  if (segments === 0 || segments > 16) return undefined;
  return (image[at + 12] ?? 0) | ((image[at + 13] ?? 0) << 8);
}

/**
 * Refuse an image built for another chip, before any byte is written. `bootOffset` is where the bootloader sits on
 * this chip: a merged binary written at 0 carries its bootloader's header there.
 */
export function checkImageChip(image: Uint8Array, address: number, chipName: string, bootOffset: number): void {
  const want = IMAGE_CHIP_ID[chipName];
  if (want === undefined) {
    // ESP8266: its images have no chip id, but an ESP32-family image (extended header, 0xEE wp-pin byte) is not for it.
    if (image[0] === IMAGE_MAGIC && image[8] === 0xee && imageChipId(image) !== undefined) {
      throw mismatch(chipName, CHIP_BY_ID.get(imageChipId(image) ?? -1) ?? 'an ESP32-family chip');
    }
    return;
  }
  let id = imageChipId(image);
  if (id === undefined && address === 0 && bootOffset > 0) id = imageChipId(image, bootOffset);
  if (id !== undefined && id !== want) throw mismatch(chipName, CHIP_BY_ID.get(id) ?? `chip id ${id}`);
}

function mismatch(board: string, built: string): FlashError {
  return new FlashError('image_mismatch', `This image was built for ${built}, but the board is an ${board}; build it for ${board} (idf.py set-target) and retry`, {
    detail: `image chip ${built}, board ${board}`,
  });
}

export interface EspPartition {
  label: string;
  type: number;
  subtype: number;
  offset: number;
  size: number;
}

/** Parse an ESP-IDF partition table: 32-byte entries (0xAA50 magic) until an 0xEBEB MD5 entry or erased flash. */
export function parsePartitionTable(bytes: Uint8Array): EspPartition[] {
  const out: EspPartition[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 0; at + 32 <= bytes.length; at += 32) {
    const magic = view.getUint16(at, true);
    if (magic !== 0x50aa) break;
    const raw = bytes.subarray(at + 12, at + 28);
    const end = raw.indexOf(0);
    const label = new TextDecoder().decode(end < 0 ? raw : raw.subarray(0, end));
    out.push({ label, type: bytes[at + 2] ?? 0, subtype: bytes[at + 3] ?? 0, offset: view.getUint32(at + 4, true), size: view.getUint32(at + 8, true) });
  }
  return out;
}
