// STM32 parts by the product id Get ID reports: name, flash layout (pages or sectors), RAM, bootloader facts.

export const FLASH_BASE = 0x0800_0000;

export interface Stm32Chip {
  /** Product id (Get ID), 12 bits. */
  readonly pid: number;
  readonly name: string;
  /** Flash size in bytes (the largest of the line; a smaller part reports its own size in its flash-size register). */
  readonly flashSize: number;
  /** Erase units from FLASH_BASE on: uniform pages, or a list of sector sizes. */
  readonly pageSize?: number;
  readonly sectors?: readonly number[];
  /** RAM the bootloader leaves to the host (Write Memory / Go into RAM). */
  readonly ramStart: number;
  readonly ramEnd: number;
  /** Bootloader version (Get, Get Version). */
  readonly bootloaderVersion: number;
  /** True: Extended Erase (0x44, 2-byte page numbers); false: Erase (0x43). */
  readonly extendedErase: boolean;
  /** Where the part reports its own flash size (16 bits, KiB, little-endian). */
  readonly flashSizeRegister: number;
}

const K = 1024;

export const STM32_CHIPS: readonly Stm32Chip[] = [
  { pid: 0x412, name: 'STM32F10x low-density', flashSize: 32 * K, pageSize: K, ramStart: 0x2000_0200, ramEnd: 0x2000_2800, bootloaderVersion: 0x22, extendedErase: false, flashSizeRegister: 0x1fff_f7e0 },
  { pid: 0x410, name: 'STM32F10x medium-density', flashSize: 128 * K, pageSize: K, ramStart: 0x2000_0200, ramEnd: 0x2000_5000, bootloaderVersion: 0x22, extendedErase: false, flashSizeRegister: 0x1fff_f7e0 },
  { pid: 0x414, name: 'STM32F10x high-density', flashSize: 512 * K, pageSize: 2 * K, ramStart: 0x2000_0200, ramEnd: 0x2001_0000, bootloaderVersion: 0x22, extendedErase: false, flashSizeRegister: 0x1fff_f7e0 },
  { pid: 0x420, name: 'STM32F10x medium-density value line', flashSize: 128 * K, pageSize: K, ramStart: 0x2000_0200, ramEnd: 0x2000_2000, bootloaderVersion: 0x22, extendedErase: false, flashSizeRegister: 0x1fff_f7e0 },
  { pid: 0x440, name: 'STM32F030x8/F05x', flashSize: 64 * K, pageSize: K, ramStart: 0x2000_0800, ramEnd: 0x2000_2000, bootloaderVersion: 0x31, extendedErase: true, flashSizeRegister: 0x1fff_f7cc },
  { pid: 0x413, name: 'STM32F40xxx/41xxx', flashSize: 1024 * K, sectors: [16 * K, 16 * K, 16 * K, 16 * K, 64 * K, 128 * K, 128 * K, 128 * K, 128 * K, 128 * K, 128 * K, 128 * K], ramStart: 0x2000_3000, ramEnd: 0x2002_0000, bootloaderVersion: 0x31, extendedErase: true, flashSizeRegister: 0x1fff_7a22 },
  { pid: 0x431, name: 'STM32F411xx', flashSize: 512 * K, sectors: [16 * K, 16 * K, 16 * K, 16 * K, 64 * K, 128 * K, 128 * K, 128 * K], ramStart: 0x2000_3000, ramEnd: 0x2002_0000, bootloaderVersion: 0x31, extendedErase: true, flashSizeRegister: 0x1fff_7a22 },
  { pid: 0x468, name: 'STM32G431xx/441xx', flashSize: 128 * K, pageSize: 2 * K, ramStart: 0x2000_4000, ramEnd: 0x2000_5800, bootloaderVersion: 0x31, extendedErase: true, flashSizeRegister: 0x1fff_75e0 },
];

export function chipById(pid: number): Stm32Chip | undefined {
  return STM32_CHIPS.find((c) => c.pid === pid);
}

/** One erase unit of a flash layout: its index (the page/sector number erase commands take) and byte range. */
export interface EraseUnit {
  index: number;
  offset: number;
  size: number;
}

/** The erase units covering `flashSize` bytes: uniform pages, or the chip's sectors. */
export function eraseUnits(layout: { pageSize?: number; sectors?: readonly number[] }, flashSize: number): EraseUnit[] {
  const out: EraseUnit[] = [];
  let offset = 0;
  for (let index = 0; offset < flashSize; index++) {
    const size = layout.sectors ? layout.sectors[index] : layout.pageSize;
    if (size === undefined || size <= 0) break;
    out.push({ index, offset, size: Math.min(size, flashSize - offset) });
    offset += size;
  }
  return out;
}

/** The units that overlap [offset, offset + length). */
export function unitsCovering(units: readonly EraseUnit[], offset: number, length: number): EraseUnit[] {
  return units.filter((u) => u.offset < offset + length && offset < u.offset + u.size);
}
