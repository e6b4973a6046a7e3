// What the ESP driver knows per chip without asking it: image chip ids, bootloader offsets, and the USB bridges
// (and Espressif native USB) a board is reached through.
/** esptool-js CHIP_NAME → the chip id an ESP32-family app image carries in its extended header (absent: ESP8266). */
export const IMAGE_CHIP_ID: Readonly<Record<string, number>> = {
  ESP32: 0,
  'ESP32-S2': 2,
  'ESP32-C3': 5,
  'ESP32-S3': 9,
  'ESP32-C2': 12,
  'ESP32-C6': 13,
  'ESP32-H2': 16,
  'ESP32-P4': 18,
  'ESP32-C61': 20,
  'ESP32-C5': 23,
};

/** Where the second-stage bootloader lives in flash (esptool's BOOTLOADER_FLASH_OFFSET). */
export function bootloaderOffset(chipName: string): number {
  return chipName === 'ESP32' || chipName === 'ESP32-S2' ? 0x1000 : chipName === 'ESP32-P4' ? 0x2000 : 0;
}

export const ESPRESSIF_VID = 0x303a;
export const USB_JTAG_SERIAL_PID = 0x1001;

/** USB-UART bridges found on ESP boards, by VID → PIDs (an empty list: any PID of that vendor). */
export const BRIDGES: ReadonlyMap<number, readonly number[]> = new Map([
  [0x10c4, [0xea60, 0xea70, 0xea71]], // Silicon Labs CP210x
  [0x1a86, [0x7523, 0x7522, 0x5523, 0x55d3, 0x55d4]], // WCH CH340/CH341/CH343/CH9102
  [0x0403, [0x6001, 0x6010, 0x6011, 0x6014, 0x6015]], // FTDI
  [0x067b, [0x2303, 0x23a3]], // Prolific PL2303
]);

export function isKnownBridge(vid: number | undefined, pid: number | undefined): boolean {
  if (vid === undefined) return false;
  const pids = BRIDGES.get(vid);
  return pids !== undefined && (pid === undefined || pids.length === 0 || pids.includes(pid));
}

/** SPIFLASH_RDID capacity byte → bytes (esptool's DETECTED_FLASH_SIZES, as powers of two). */
export function flashSizeFromId(flashId: number): number | undefined {
  const code = (flashId >>> 16) & 0xff;
  if (code >= 0x12 && code <= 0x1c) return 2 ** code;
  if (code >= 0x20 && code <= 0x22) return 2 ** (code - 6);
  if (code >= 0x32 && code <= 0x3a) return 2 ** (code - 0x20);
  return undefined;
}
