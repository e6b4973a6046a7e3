import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkImageChip, imageChipId, parsePartitionTable } from '../../../../src/drivers/esp/image.js';
import { flashSizeFromId, isKnownBridge } from '../../../../src/drivers/esp/chips.js';
import { DEFAULT_PARTITIONS, espApp, partitionTable } from '../../../helpers/esp-images.js';

describe('ESP image checks', () => {
  it('reads the chip id of an ESP32-family header and refuses a mismatch', () => {
    expect(imageChipId(espApp(1024, 9))).toBe(9);
    expect(() => checkImageChip(espApp(1024, 9), 0x10000, 'ESP32', 0x1000)).toThrow(/built for ESP32-S3.*board is an ESP32/);
    expect(() => checkImageChip(espApp(1024, 0), 0x10000, 'ESP32', 0x1000)).not.toThrow();
    expect(() => checkImageChip(espApp(1024, 5), 0x0, 'ESP32-C3', 0)).not.toThrow();
  });

  it('finds the bootloader header inside a merged binary written at 0', () => {
    const merged = new Uint8Array(0x20000).fill(0xff);
    merged.set(espApp(0x6000, 9), 0x1000);
    expect(() => checkImageChip(merged, 0, 'ESP32', 0x1000)).toThrow(expect.objectContaining({ code: 'image_mismatch' }) as Error);
    merged.set(espApp(0x6000, 0), 0x1000);
    expect(() => checkImageChip(merged, 0, 'ESP32', 0x1000)).not.toThrow();
  });

  it('leaves data that is not an app image alone (partition tables, file systems)', () => {
    expect(imageChipId(partitionTable(DEFAULT_PARTITIONS))).toBeUndefined();
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 64 }), (bytes) => {
        if (bytes[0] !== 0xe9) expect(imageChipId(bytes)).toBeUndefined();
      }),
    );
  });

  it('refuses an ESP32-family image on an ESP8266', () => {
    expect(() => checkImageChip(espApp(1024, 0), 0, 'ESP8266', 0)).toThrow(/board is an ESP8266/);
  });

  it('parses an ESP-IDF partition table and stops at erased flash', () => {
    const parts = parsePartitionTable(partitionTable(DEFAULT_PARTITIONS));
    expect(parts).toEqual(DEFAULT_PARTITIONS.map((p) => ({ label: p.label, type: p.type, subtype: p.subtype, offset: p.offset, size: p.size })));
    expect(parsePartitionTable(new Uint8Array(0xc00).fill(0xff))).toEqual([]);
  });

  it('maps RDID capacity bytes to sizes and knows the usual bridges', () => {
    expect(flashSizeFromId(0x1640ef)).toBe(4 * 1024 * 1024);
    expect(flashSizeFromId(0x1840c8)).toBe(16 * 1024 * 1024);
    expect(flashSizeFromId(0xffffff)).toBeUndefined();
    expect(isKnownBridge(0x10c4, 0xea60)).toBe(true);
    expect(isKnownBridge(0x1a86, 0x7523)).toBe(true);
    expect(isKnownBridge(0x0483, 0x5740)).toBe(false);
    expect(isKnownBridge(undefined, undefined)).toBe(false);
  });
});
