// Fastboot wire text: response parsing, number parsing and command formatting (pure, transport-agnostic).
import { FlashError } from '../../contracts/errors.js';

/** Longest response a device sends: 4-byte status + 252 bytes. */
export const RESPONSE_MAX = 256;
/** Bootloaders accept commands of up to 64 bytes; userspace fastbootd up to 4096. */
export const COMMAND_MAX_BOOTLOADER = 64;
export const COMMAND_MAX_FASTBOOTD = 4096;
/** `download:%08x` caps a download at 32 bits; AOSP caps max-download-size at 1 GiB as well. */
export const DOWNLOAD_CAP = 1024 * 1024 * 1024;

export type FastbootResponse =
  | { kind: 'INFO'; text: string }
  | { kind: 'TEXT'; text: string }
  | { kind: 'OKAY'; text: string }
  | { kind: 'FAIL'; text: string }
  | { kind: 'DATA'; size: number };

const latin1 = new TextDecoder('latin1');

function printable(bytes: Uint8Array): string {
  return JSON.stringify(latin1.decode(bytes.subarray(0, 64)));
}

/** One response packet → its kind and payload. Anything else is a FlashError `protocol_error`. */
export function parseResponse(bytes: Uint8Array): FastbootResponse {
  if (bytes.length < 4) throw new FlashError('protocol_error', `The device sent a response too short to carry a status: ${printable(bytes)}`);
  const status = latin1.decode(bytes.subarray(0, 4));
  const rest = latin1.decode(bytes.subarray(4)).replace(/\0+$/, '');
  switch (status) {
    case 'INFO':
    case 'TEXT':
    case 'OKAY':
    case 'FAIL':
      return { kind: status, text: rest };
    case 'DATA': {
      if (!/^[0-9a-fA-F]{1,8}$/.test(rest)) {
        throw new FlashError('protocol_error', `The device answered DATA with an invalid size: ${printable(bytes)}`);
      }
      return { kind: 'DATA', size: parseInt(rest, 16) };
    }
    default:
      throw new FlashError('protocol_error', `The device sent an unknown status: ${printable(bytes)}`);
  }
}

/**
 * A fastboot number: `0x`-prefixed hex or decimal, surrounding blanks ignored. With `assumeHex`, bare digits are hex
 * too (some bootloaders omit the `0x` of partition-size). Undefined when it is not a number.
 */
export function parseNumber(text: string | undefined, options: { assumeHex?: boolean } = {}): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  let v: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(t)) v = parseInt(t.slice(2), 16);
  else if (options.assumeHex && /^[0-9a-fA-F]+$/.test(t)) v = parseInt(t, 16);
  else if (/^[0-9]+$/.test(t)) v = parseInt(t, 10);
  else return undefined;
  return Number.isSafeInteger(v) ? v : undefined;
}

/** `download:%08x`: lowercase hex, exactly 8 digits, never 0, never above 0xffffffff. */
export function formatDownload(size: number): string {
  if (!Number.isSafeInteger(size) || size <= 0 || size > 0xffffffff) {
    throw new FlashError('bad_request', `Cannot download ${size} bytes: a fastboot download carries 1 to 4294967295 bytes`);
  }
  return `download:${size.toString(16).padStart(8, '0')}`;
}

/** Commands are printable ASCII and at most `max` bytes. */
export function checkCommand(command: string, max: number = COMMAND_MAX_FASTBOOTD): string {
  if (command.length === 0) throw new FlashError('bad_request', 'Empty fastboot command');
  if (!/^[\x20-\x7e]+$/.test(command)) throw new FlashError('bad_request', `Fastboot command ${JSON.stringify(command)} has characters outside printable ASCII`);
  if (command.length > max) {
    throw new FlashError('bad_request', `Fastboot command ${JSON.stringify(command.slice(0, 40))}… is ${command.length} bytes; this device accepts at most ${max}`);
  }
  return command;
}

/** `current-slot` as devices answer it (`a`, `_a`, `b`) → `a` / `b`; undefined when not a slot. */
export function normaliseSlot(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().replace(/^_/, '');
  return /^[a-z]$/.test(v) ? v : undefined;
}

/** Partition names the driver sends: letters, digits, `_`, `-`, `.` (no `:` which would split the command). */
export function checkPartitionName(name: string): string {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
    throw new FlashError('bad_request', `${JSON.stringify(name)} is not a partition name (letters, digits, _ - . only)`);
  }
  return name;
}

/** Truthy fastboot variable answers: `yes`, `true`, `1`. */
export function isYes(value: string | undefined): boolean {
  return value !== undefined && /^(yes|true|1)$/i.test(value.trim());
}
