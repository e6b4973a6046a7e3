// Espressif serial bootloader opcodes, their names (for fail-command=NAME), status codes and the response frame.
import { createHash } from 'node:crypto';

export const OP = {
  FLASH_BEGIN: 0x02,
  FLASH_DATA: 0x03,
  FLASH_END: 0x04,
  MEM_BEGIN: 0x05,
  MEM_END: 0x06,
  MEM_DATA: 0x07,
  SYNC: 0x08,
  WRITE_REG: 0x09,
  READ_REG: 0x0a,
  SPI_SET_PARAMS: 0x0b,
  SPI_ATTACH: 0x0d,
  CHANGE_BAUDRATE: 0x0f,
  FLASH_DEFL_BEGIN: 0x10,
  FLASH_DEFL_DATA: 0x11,
  FLASH_DEFL_END: 0x12,
  SPI_FLASH_MD5: 0x13,
  GET_SECURITY_INFO: 0x14,
  ERASE_FLASH: 0xd0,
  ERASE_REGION: 0xd1,
  READ_FLASH: 0xd2,
  RUN_USER_CODE: 0xd3,
} as const;

export type OpName = keyof typeof OP;
export const OP_NAMES = Object.keys(OP) as OpName[];

export function opName(op: number): string {
  return OP_NAMES.find((n) => OP[n] === op) ?? `0x${op.toString(16).padStart(2, '0')}`;
}

/** True when `fail-command=NAME` names this op (`FLASH_DATA` also covers the compressed FLASH_DEFL_DATA). */
export function commandMatches(name: string, op: number): boolean {
  const n = name.toUpperCase().replace(/^ESP_/, '');
  if (n === 'FLASH_DATA' && op === OP.FLASH_DEFL_DATA) return true;
  return (OP as Record<string, number>)[n] === op;
}

/** ROM error bytes (second status byte). */
export const ROM_ERR = { INVALID_MESSAGE: 0x05, FAILED: 0x06, BAD_CRC: 0x07, FLASH_WRITE: 0x08, FLASH_READ: 0x09, DEFLATE: 0x0b } as const;
/** Stub error bytes. */
export const STUB_ERR = {
  BAD_DATA_LEN: 0xc0,
  BAD_DATA_CHECKSUM: 0xc1,
  FAILED_SPI_OP: 0xc4,
  NOT_IN_FLASH_MODE: 0xc6,
  INFLATE_ERROR: 0xc7,
  TOO_MUCH_DATA: 0xc9,
  CMD_NOT_IMPLEMENTED: 0xff,
} as const;

/** Response: direction 1, op, u16 length, u32 value, data, then `statusBytes` status bytes (status, error, 0…). */
export function response(op: number, value: number, data: Uint8Array, statusBytes: number, error = 0): Uint8Array {
  const out = new Uint8Array(8 + data.length + statusBytes);
  const v = new DataView(out.buffer);
  out[0] = 1;
  out[1] = op;
  v.setUint16(2, data.length + statusBytes, true);
  v.setUint32(4, value >>> 0, true);
  out.set(data, 8);
  out[8 + data.length] = error === 0 ? 0 : 1;
  out[9 + data.length] = error;
  return out;
}

/** XOR of the bytes seeded with 0xEF: the checksum *_DATA commands carry. */
export function dataChecksum(data: Uint8Array): number {
  let c = 0xef;
  for (const b of data) c ^= b;
  return c;
}

export function u32le(data: Uint8Array, at: number): number {
  return ((data[at] ?? 0) | ((data[at + 1] ?? 0) << 8) | ((data[at + 2] ?? 0) << 16) | ((data[at + 3] ?? 0) << 24)) >>> 0;
}

export function md5(bytes: Uint8Array): Uint8Array {
  return createHash('md5').update(bytes).digest();
}
