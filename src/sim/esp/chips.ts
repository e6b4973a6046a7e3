// What each simulated Espressif chip answers: detection magic, GET_SECURITY_INFO chip id, efuse words (MAC, package,
// revision), the SPI peripheral's register layout for the flash-id read, and which commands its ROM knows.
export type EspSimChip = 'esp32' | 'esp8266' | 'esp32s3' | 'esp32c3';
export const ESP_SIM_CHIPS: readonly EspSimChip[] = ['esp32', 'esp8266', 'esp32s3', 'esp32c3'];

export interface SpiRegs {
  base: number;
  usr: number;
  usr1: number;
  usr2: number;
  w0: number;
}

export interface ChipPersonality {
  readonly chip: EspSimChip;
  readonly title: string;
  /** Value at 0x40001000 (CHIP_DETECT_MAGIC_REG). */
  readonly magic: number;
  /** GET_SECURITY_INFO chip id; absent when the ROM does not know the command (ESP8266, ESP32). */
  readonly securityChipId?: number;
  /** Status bytes after each ROM response (the stub always sends 2). */
  readonly romStatusBytes: 2 | 4;
  /** The ROM knows FLASH_DEFL_*, SPI_FLASH_MD5 and CHANGE_BAUDRATE (the ESP8266 ROM does not). */
  readonly romExtended: boolean;
  readonly spi: SpiRegs;
  readonly uartClkdivReg: number;
  /** Crystal MHz and the divider esptool applies when it derives the crystal from UART_CLKDIV. */
  readonly xtalMHz: number;
  readonly xtalDivider: number;
  /** Fixed register values (efuses, date registers) for a board with this MAC. */
  registers(mac: Uint8Array): Map<number, number>;
}

const u32 = (n: number): number => n >>> 0;
/** The low four MAC bytes as the efuse word most chips keep them in (big-endian order inside a little-endian word). */
const macLow = (m: Uint8Array): number => u32(((m[2] ?? 0) << 24) | ((m[3] ?? 0) << 16) | ((m[4] ?? 0) << 8) | (m[5] ?? 0));
const macHigh = (m: Uint8Array): number => ((m[0] ?? 0) << 8) | (m[1] ?? 0);

const ESP32: ChipPersonality = {
  chip: 'esp32',
  title: 'ESP32-D0WD-V3 (revision 3)',
  magic: 0x00f01d83,
  romStatusBytes: 4,
  romExtended: true,
  spi: { base: 0x3ff42000, usr: 0x1c, usr1: 0x20, usr2: 0x24, w0: 0x80 },
  uartClkdivReg: 0x3ff40014,
  xtalMHz: 40,
  xtalDivider: 1,
  registers(mac) {
    const efuse = 0x3ff5a000;
    return new Map([
      [efuse + 4 * 1, macLow(mac)],
      [efuse + 4 * 2, macHigh(mac)],
      // word 3: package 1 (D0WD) in bits 9-11, revision bit 15
      [efuse + 4 * 3, (1 << 9) | (1 << 15)],
      [efuse + 4 * 5, 1 << 20],
      [0x3ff66000 + 0x7c, u32(1 << 31)], // APB_CTL_DATE: revision bit 2
    ]);
  },
};

const ESP8266: ChipPersonality = {
  chip: 'esp8266',
  title: 'ESP8266EX',
  magic: 0xfff0c101,
  romStatusBytes: 2,
  romExtended: false,
  spi: { base: 0x60000200, usr: 0x1c, usr1: 0x20, usr2: 0x24, w0: 0x40 },
  uartClkdivReg: 0x60000014,
  xtalMHz: 26,
  xtalDivider: 2,
  registers(mac) {
    const efuse = 0x3ff00050;
    // OUI 18:fe:34 is implied by efuse word 1 bits 16-23 = 0; word 3 = 0.
    return new Map([
      [efuse + 4 * 0, u32((mac[5] ?? 0) << 24)],
      [efuse + 4 * 1, ((mac[3] ?? 0) << 8) | (mac[4] ?? 0)],
    ]);
  },
};

function efuseBlock1Chip(base: Omit<ChipPersonality, 'registers'>, efuseBase: number): ChipPersonality {
  return {
    ...base,
    registers(mac) {
      const block1 = efuseBase + 0x44;
      return new Map([
        [block1, macLow(mac)],
        [block1 + 4, macHigh(mac)],
        // block1 word 5: major revision 0, word 3 minor revision 2 (v0.2)
        [block1 + 4 * 3, 2 << 18],
      ]);
    },
  };
}

const ESP32S3 = efuseBlock1Chip(
  {
    chip: 'esp32s3',
    title: 'ESP32-S3 (QFN56) (revision v0.2)',
    magic: 0x00000009,
    securityChipId: 9,
    romStatusBytes: 4,
    romExtended: true,
    spi: { base: 0x60002000, usr: 0x18, usr1: 0x1c, usr2: 0x20, w0: 0x58 },
    uartClkdivReg: 0x60000014,
    xtalMHz: 40,
    xtalDivider: 1,
  },
  0x60007000,
);

const ESP32C3 = efuseBlock1Chip(
  {
    chip: 'esp32c3',
    title: 'ESP32-C3 (QFN32) (revision v0.2)',
    magic: 0x1b31506f,
    securityChipId: 5,
    romStatusBytes: 4,
    romExtended: true,
    spi: { base: 0x60002000, usr: 0x18, usr1: 0x1c, usr2: 0x20, w0: 0x58 },
    uartClkdivReg: 0x3ff40014,
    xtalMHz: 40,
    xtalDivider: 1,
  },
  0x60008800,
);

const BY_NAME: Record<EspSimChip, ChipPersonality> = { esp32: ESP32, esp8266: ESP8266, esp32s3: ESP32S3, esp32c3: ESP32C3 };

export function chipPersonality(name: string): ChipPersonality {
  const key = name.toLowerCase().replace(/[-_]/g, '') as EspSimChip;
  const p = BY_NAME[key];
  if (!p) throw new RangeError(`chip "${name}" is not simulated (use ${ESP_SIM_CHIPS.join(', ')})`);
  return p;
}

/** JEDEC capacity byte of a flash chip of `size` bytes (2^n bytes → n), as SPIFLASH_RDID reports it. */
export function flashCapacityCode(size: number): number {
  return Math.round(Math.log2(size));
}

/** A stable, locally administered-looking MAC from the serial, with Espressif's OUI. */
export function macFromSerial(serial: string): Uint8Array {
  let h = 0x811c9dc5;
  for (const c of serial) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193);
  return Uint8Array.from([0x24, 0x0a, 0xc4, (h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff]);
}
