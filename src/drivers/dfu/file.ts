// DFU firmware files: a raw image, the DFU 1.1 suffix (appendix B) and ST's DfuSe container (UM0391). Sniffing and
// parsing with every size cross-checked, the checks against a device and its memory layout, and builders for tests,
// simulators and benches.
import { FlashError } from '../../contracts/errors.js';
import { DFUSE_VERSION } from './descriptors.js';
import { segmentAt, type DfuseLayout } from './dfuse-layout.js';

/** The standard suffix: bcdDevice, idProduct, idVendor, bcdDFU, "UFD", bLength, dwCRC (all little-endian). */
export const DFU_SUFFIX_LENGTH = 16;
/** 0xFFFF in a suffix's idVendor/idProduct/bcdDevice: any device. */
export const DFU_ANY_ID = 0xffff;

export interface DfuSuffix {
  bcdDevice: number;
  idProduct: number;
  idVendor: number;
  bcdDFU: number;
  /** bLength: the suffix's size in bytes (16, or more when a vendor extends it at its front). */
  length: number;
  crc: number;
}

export interface DfuseElement {
  address: number;
  /** A view into the parsed file's bytes. */
  data: Uint8Array;
}

export interface DfuseTarget {
  alt: number;
  name: string | null;
  elements: DfuseElement[];
}

export interface DfuFile {
  kind: 'raw' | 'dfu' | 'dfuse';
  /** The file without its suffix: the firmware of a raw or .dfu file, the DfuSe container of a DfuSe one. */
  payload: Uint8Array;
  suffix: DfuSuffix | null;
  /** DfuSe only (empty otherwise). */
  targets: DfuseTarget[];
}

/** What a built suffix says; ids default to 0xFFFF (any), bcdDFU to 0x0100 (0x011A for DfuSe files), as dfu-util's. */
export interface DfuIds {
  idVendor?: number;
  idProduct?: number;
  bcdDevice?: number;
  bcdDFU?: number;
}

const PREFIX_LENGTH = 11; // "DfuSe", bVersion, DFUImageSize, bTargets
const TARGET_PREFIX_LENGTH = 274; // "Target", bAlternateSetting, bTargetNamed, szTargetName[255], dwTargetSize, dwNbElements
const ELEMENT_HEADER_LENGTH = 8; // dwElementAddress, dwElementSize
const TARGET_NAME_LENGTH = 255;
/** How far before the end of a file a displaced suffix (bytes appended after it) is still recognised. */
const DISPLACED_SUFFIX_WINDOW = 4096;

// ---- CRC-32 as dfu-util computes it: reflected polynomial 0xEDB88320, initial 0xFFFFFFFF, no final XOR ----

/** Slicing-by-8 tables: table k gives the CRC of a byte followed by k zero bytes. */
const CRC_TABLES = ((): Uint32Array => {
  const t = new Uint32Array(8 * 256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[i] = c;
  }
  for (let i = 0; i < 256; i++) {
    for (let k = 1; k < 8; k++) {
      const prev = t[(k - 1) * 256 + i]!;
      t[k * 256 + i] = (prev >>> 8) ^ t[prev & 0xff]!;
    }
  }
  return t;
})();

/**
 * The DFU suffix's CRC-32 of `bytes`, continuing from `crc` (so that chunks can be fed one after another). Equal to
 * `~zlib.crc32(bytes) >>> 0` for a single call.
 */
export function dfuCrc32(bytes: Uint8Array, crc = 0xffffffff): number {
  const t = CRC_TABLES;
  let c = crc >>> 0;
  let i = 0;
  const n8 = bytes.length - (bytes.length % 8);
  while (i < n8) {
    const lo = c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    c =
      t[1792 + (lo & 0xff)]! ^
      t[1536 + ((lo >>> 8) & 0xff)]! ^
      t[1280 + ((lo >>> 16) & 0xff)]! ^
      t[1024 + (lo >>> 24)]! ^
      t[768 + bytes[i + 4]!]! ^
      t[512 + bytes[i + 5]!]! ^
      t[256 + bytes[i + 6]!]! ^
      t[bytes[i + 7]!]!;
    i += 8;
  }
  for (; i < bytes.length; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return c >>> 0;
}

// ---- little helpers ----

function u16(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8);
}

function u32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
}

function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
  b[at + 2] = (v >>> 16) & 0xff;
  b[at + 3] = (v >>> 24) & 0xff;
}

function ascii(b: Uint8Array, at: number, text: string): boolean {
  if (at < 0 || at + text.length > b.length) return false;
  for (let i = 0; i < text.length; i++) if (b[at + i] !== text.charCodeAt(i)) return false;
  return true;
}

function hex8(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

function hex4(n: number): string {
  return n.toString(16).padStart(4, '0');
}

/** `0x08000000-0x0800ffff`: an address range with its last byte, as the rest of the station writes them. */
function range(start: number, end: number): string {
  return `${hex8(start)}-${hex8(Math.max(start, end - 1))}`;
}

function invalid(message: string, detail?: string): FlashError {
  return new FlashError('image_invalid', message, detail === undefined ? {} : { detail });
}

// ---- parsing ----

/** The suffix at the end of `bytes`: null when there is none; throws when there is one that does not hold. */
function readSuffix(bytes: Uint8Array, label: string): DfuSuffix | null {
  const n = bytes.length;
  if (n < DFU_SUFFIX_LENGTH || !ascii(bytes, n - 8, 'UFD')) {
    refuseDisplacedSuffix(bytes, label);
    return null;
  }
  const length = bytes[n - 5]!;
  if (length < DFU_SUFFIX_LENGTH) {
    throw invalid(`${label} ends in a DFU suffix ("UFD") whose bLength is ${length}, less than the ${DFU_SUFFIX_LENGTH} bytes of a DFU 1.1 suffix (offset ${n - 5}): the file is damaged`);
  }
  if (length > n) {
    throw invalid(`${label} ends in a DFU suffix ("UFD") whose bLength is ${length}, but the file is only ${n} bytes (offset ${n - 5}): the file is damaged`);
  }
  const stored = u32(bytes, n - 4);
  const computed = dfuCrc32(bytes.subarray(0, n - 4));
  if (stored !== computed) {
    throw invalid(
      `${label}: the DFU suffix CRC does not match: the suffix says ${hex8(stored)}, the file's bytes give ${hex8(computed)}. The file is damaged; download or build it again.`,
      `dfu suffix crc ${hex8(stored)} computed ${hex8(computed)}`,
    );
  }
  return {
    bcdDevice: u16(bytes, n - 16),
    idProduct: u16(bytes, n - 14),
    idVendor: u16(bytes, n - 12),
    bcdDFU: u16(bytes, n - 10),
    length,
    crc: stored,
  };
}

/**
 * Refuses a file whose suffix is not where it must be (its last 16 bytes): cut short (the "UFD" signature is in the
 * last 8 bytes, where only the CRC belongs), or followed by appended bytes (a whole suffix, CRC and all, ends before
 * the end). dfu-suffix -c rejects both; flashing either as raw would write the suffix into the device.
 */
function refuseDisplacedSuffix(bytes: Uint8Array, label: string): void {
  const n = bytes.length;
  for (let at = Math.max(0, n - 7); at <= n - 3; at++) {
    if (ascii(bytes, at, 'UFD') && (at + 3 >= n || bytes[at + 3]! >= DFU_SUFFIX_LENGTH)) {
      throw invalid(`${label} ends in a cut-off DFU suffix: its "UFD" signature is ${n - at} bytes before the end instead of 8 (offset ${at}), so the CRC is missing. The file was truncated; download or build it again.`);
    }
  }
  for (let at = n - 9; at >= Math.max(8, n - 8 - DISPLACED_SUFFIX_WINDOW); at--) {
    if (bytes[at] !== 0x55 || !ascii(bytes, at, 'UFD') || bytes[at + 3]! < DFU_SUFFIX_LENGTH) continue;
    const end = at + 8;
    if (dfuCrc32(bytes.subarray(0, end - 4)) === u32(bytes, end - 4)) {
      throw invalid(`${label} has a DFU suffix that ends at offset ${end}, but ${n - end} more bytes follow it: a suffix must end the file. Remove the bytes after it (or rebuild the file).`);
    }
  }
}

/** Parses a DfuSe container (`payload` is the file without its suffix); every size is checked against the others. */
function parseDfuse(payload: Uint8Array, suffix: DfuSuffix | null, label: string): DfuseTarget[] {
  const n = payload.length;
  if (n < PREFIX_LENGTH) throw invalid(`${label}: its DfuSe prefix is cut short: ${n} of ${PREFIX_LENGTH} bytes`);
  const version = payload[5]!;
  if (version !== 1) throw invalid(`${label}: DfuSe format version ${version} at offset 5 is not supported (UM0391 defines version 1)`);
  // UM0391's DFUImageSize: ST's tools and fwupd write the file's size without the suffix (UM0391's errata), dfu-util's
  // dfuse-pack writes it with the suffix. Either is accepted; anything else means the file is not what it says.
  const imageSize = u32(payload, 6);
  const withSuffix = n + (suffix?.length ?? DFU_SUFFIX_LENGTH);
  if (imageSize !== n && imageSize !== withSuffix) {
    throw invalid(`${label}: its DfuSe prefix says the image is ${imageSize} bytes (offset 6), but the file holds ${n} bytes before the suffix (${withSuffix} with it)`);
  }
  const count = payload[10]!;
  if (count === 0) throw invalid(`${label} is a DfuSe file with no targets (bTargets 0 at offset 10): there is nothing to flash`);
  const targets: DfuseTarget[] = [];
  let at = PREFIX_LENGTH;
  for (let t = 1; t <= count; t++) {
    const which = `DfuSe target ${t} of ${count}`;
    if (at + TARGET_PREFIX_LENGTH > n) {
      throw invalid(`${label}: ${which} at offset ${at} is cut short: its ${TARGET_PREFIX_LENGTH}-byte header runs past the end of the image (${n} bytes)`);
    }
    if (!ascii(payload, at, 'Target')) throw invalid(`${label}: ${which} has no "Target" signature at offset ${at}`);
    const alt = payload[at + 6]!;
    const named = u32(payload, at + 7) !== 0;
    const size = u32(payload, at + 266);
    const elementCount = u32(payload, at + 270);
    const body = at + TARGET_PREFIX_LENGTH;
    const end = body + size;
    if (end > n) {
      throw invalid(`${label}: ${which} (alt ${alt}) says ${size} bytes of elements (offset ${at + 266}), but only ${n - body} bytes follow its header at offset ${at}`);
    }
    if (elementCount > size / ELEMENT_HEADER_LENGTH) {
      throw invalid(`${label}: ${which} (alt ${alt}) says ${elementCount} elements (offset ${at + 270}), more than its ${size} bytes can hold`);
    }
    const elements: DfuseElement[] = [];
    let e = body;
    for (let i = 1; i <= elementCount; i++) {
      if (e + ELEMENT_HEADER_LENGTH > end) {
        throw invalid(`${label}: element ${i} of ${which} (alt ${alt}) at offset ${e} runs past the target's ${size} bytes (which end at offset ${end})`);
      }
      const address = u32(payload, e);
      const length = u32(payload, e + 4);
      if (e + ELEMENT_HEADER_LENGTH + length > end) {
        throw invalid(`${label}: element ${i} of ${which} (alt ${alt}) at offset ${e} says ${length} bytes (offset ${e + 4}), but its target has only ${end - e - ELEMENT_HEADER_LENGTH} left`);
      }
      if (address + length > 0x1_0000_0000) {
        throw invalid(`${label}: element ${i} of ${which} (alt ${alt}) at offset ${e}: ${length} bytes from ${hex8(address)} run past the 32-bit address space`);
      }
      elements.push({ address, data: payload.subarray(e + ELEMENT_HEADER_LENGTH, e + ELEMENT_HEADER_LENGTH + length) });
      e += ELEMENT_HEADER_LENGTH + length;
    }
    if (e !== end) {
      throw invalid(`${label}: ${which} (alt ${alt}) says ${size} bytes (offset ${at + 266}), but its ${elementCount} elements take ${e - body}`);
    }
    targets.push({ alt, name: named ? targetName(payload.subarray(at + 11, at + 11 + TARGET_NAME_LENGTH)) : null, elements });
    at = end;
  }
  if (at !== n) {
    throw invalid(`${label}: ${n - at} bytes at offset ${at} follow the last of its ${count} DfuSe targets; the prefix (offset 10) does not account for them`);
  }
  refuseOverlaps(targets, label);
  return targets;
}

function targetName(b: Uint8Array): string {
  const nul = b.indexOf(0);
  return String.fromCharCode(...b.subarray(0, nul < 0 ? b.length : nul));
}

/** Two elements for the same alt setting that share bytes: which one the device ends up with depends on page erases. */
function refuseOverlaps(targets: readonly DfuseTarget[], label: string): void {
  const byAlt = new Map<number, { start: number; end: number }[]>();
  for (const t of targets) {
    const list = byAlt.get(t.alt) ?? [];
    for (const el of t.elements) if (el.data.length) list.push({ start: el.address, end: el.address + el.data.length });
    byAlt.set(t.alt, list);
  }
  for (const [alt, list] of byAlt) {
    list.sort((a, b) => a.start - b.start);
    for (let i = 1; i < list.length; i++) {
      const a = list[i - 1]!;
      const b = list[i]!;
      if (b.start < a.end) {
        throw invalid(`${label}: two DfuSe elements for alt ${alt} overlap: ${range(a.start, a.end)} and ${range(b.start, b.end)}`);
      }
    }
  }
}

/**
 * Sniffs and parses a DFU firmware file. A valid DFU suffix (signature "UFD", bLength ≥ 16, CRC-32 over all but the
 * last 4 bytes) makes it `dfu`; a payload that starts with the DfuSe prefix makes it `dfuse` (with or without a
 * suffix); anything else is `raw`. Refused with `image_invalid`: a suffix whose CRC or length does not hold, a suffix
 * cut short or followed by other bytes, a DfuSe container whose sizes do not add up (the message names the offset),
 * a `.dfu` file (by `name`) without a suffix, and an empty file.
 */
export function parseDfuFile(bytes: Uint8Array, name?: string): DfuFile {
  const label = name ?? 'The DFU file';
  if (bytes.length === 0) throw invalid(`${label} is empty: there is nothing to flash`);
  const suffix = readSuffix(bytes, label);
  if (!suffix && name !== undefined && /\.dfu$/i.test(name)) {
    throw invalid(
      `${label} has no DFU suffix (a .dfu file ends in 16 bytes with "UFD", its length and a CRC-32). ` +
        'Add one with `dfu-suffix -v VID -p PID -a FILE`, or name it .bin to flash it as raw bytes.',
    );
  }
  const payload = suffix ? bytes.subarray(0, bytes.length - suffix.length) : bytes;
  if (ascii(payload, 0, 'DfuSe')) return { kind: 'dfuse', payload, suffix, targets: parseDfuse(payload, suffix, label) };
  if (!suffix) return { kind: 'raw', payload, suffix: null, targets: [] };
  if (payload.length === 0) throw invalid(`${label} holds a DFU suffix and no firmware: there is nothing to flash`);
  return { kind: 'dfu', payload, suffix, targets: [] };
}

// ---- checks against the device ----

function usbIds(vendor: number, product: number): string {
  return `${hex4(vendor)}:${hex4(product)}`;
}

/**
 * Refuses a file whose suffix names another USB device (0xFFFF matches any), unless `force`. bcdDevice is not
 * compared: dfu-util does not either, dfuse-pack writes 0, and a device in DFU mode reports its bootloader's release.
 */
export function checkSuffixMatches(
  suffix: DfuSuffix | null,
  device: { vendorId: number; productId: number; bcdDevice?: number },
  force: boolean,
): void {
  if (!suffix || force) return;
  const vendorOk = suffix.idVendor === DFU_ANY_ID || suffix.idVendor === device.vendorId;
  const productOk = suffix.idProduct === DFU_ANY_ID || suffix.idProduct === device.productId;
  if (vendorOk && productOk) return;
  const any = suffix.idVendor === DFU_ANY_ID ? ' (any vendor)' : suffix.idProduct === DFU_ANY_ID ? ' (any product)' : '';
  const file = usbIds(suffix.idVendor, suffix.idProduct);
  const dev = usbIds(device.vendorId, device.productId);
  throw new FlashError(
    'image_mismatch',
    `The file's DFU suffix is for USB device ${file}${any}, but this device is ${dev}. Use the file built for this device, or, if you know it fits, flash it from a plan step with "options": { "force": true } (docs/dfu.md).`,
    { detail: `dfu suffix ${file} device ${dev}` },
  );
}

function spans(layout: DfuseLayout): string {
  const out: string[] = [];
  let start = -1;
  let end = -1;
  for (const s of layout.segments) {
    if (s.start === end) {
      end = s.end;
      continue;
    }
    if (start >= 0) out.push(range(start, end));
    start = s.start;
    end = s.end;
  }
  if (start >= 0) out.push(range(start, end));
  return out.join(', ');
}

/**
 * Refuses, before anything is erased, a DfuSe element that does not lie wholly in writable memory of its alt
 * setting's layout. `layout` is one layout (every target is checked against it) or the device's layouts by alt
 * setting (a target for an alt without one is refused with `partition_not_found`). A raw image at an address can be
 * checked as a target with one element.
 */
export function checkElementsInLayout(targets: readonly DfuseTarget[], layout: DfuseLayout | ReadonlyMap<number, DfuseLayout>): void {
  for (const t of targets) {
    const l = 'segments' in layout ? layout : layout.get(t.alt);
    const which = `alt ${t.alt}${t.name ? ` "${t.name}"` : ''}`;
    if (!l) {
      throw new FlashError('partition_not_found', `The file has a DfuSe target for ${which}, but this device has no alt setting ${t.alt} with a memory layout`);
    }
    for (const el of t.elements) {
      const start = el.address;
      const end = start + el.data.length;
      for (let at = start; at < end; ) {
        const seg = segmentAt(l, at);
        if (!seg) {
          if (at === start) {
            throw new FlashError('target_unsupported', `DfuSe element ${range(start, end)} (${which}) lies outside the memory layout of "${l.name}" (${spans(l)})`);
          }
          throw new FlashError('image_too_large', `DfuSe element ${range(start, end)} (${which}) runs past the memory of "${l.name}" (${spans(l)}) at ${hex8(at)}`);
        }
        if (!seg.writable) {
          throw new FlashError('target_unsupported', `DfuSe element ${range(start, end)} (${which}) falls on ${range(seg.start, seg.end)}, which "${l.name}" announces as not writable`);
        }
        at = seg.end;
      }
    }
  }
}

// ---- builders (tests, simulators, benches) ----

function checkU16(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new RangeError(`${what} ${v} is not a 16-bit value`);
  return v;
}

/** `payload` followed by a 16-byte DFU suffix, as `dfu-suffix -v VID -p PID -d DID -a` writes it. */
export function buildDfuSuffix(payload: Uint8Array, ids: DfuIds = {}): Uint8Array {
  const out = new Uint8Array(payload.length + DFU_SUFFIX_LENGTH);
  out.set(payload, 0);
  const s = payload.length;
  put16(out, s, checkU16(ids.bcdDevice ?? DFU_ANY_ID, 'bcdDevice'));
  put16(out, s + 2, checkU16(ids.idProduct ?? DFU_ANY_ID, 'idProduct'));
  put16(out, s + 4, checkU16(ids.idVendor ?? DFU_ANY_ID, 'idVendor'));
  put16(out, s + 6, checkU16(ids.bcdDFU ?? 0x0100, 'bcdDFU'));
  out[s + 8] = 0x55; // 'U'
  out[s + 9] = 0x46; // 'F'
  out[s + 10] = 0x44; // 'D'
  out[s + 11] = DFU_SUFFIX_LENGTH;
  put32(out, s + 12, dfuCrc32(out.subarray(0, s + 12)));
  return out;
}

/**
 * A DfuSe file (UM0391): prefix, targets with their elements, and the suffix (bcdDFU 0x011A unless `ids` says
 * otherwise). DFUImageSize is written without the suffix, as ST's tools do.
 */
export function buildDfuseFile(targets: readonly DfuseTarget[], ids: DfuIds = {}): Uint8Array {
  if (targets.length > 255) throw new RangeError(`a DfuSe file holds at most 255 targets, not ${targets.length}`);
  let size = PREFIX_LENGTH;
  for (const t of targets) {
    size += TARGET_PREFIX_LENGTH;
    for (const el of t.elements) size += ELEMENT_HEADER_LENGTH + el.data.length;
  }
  const out = new Uint8Array(size);
  out.set([0x44, 0x66, 0x75, 0x53, 0x65], 0); // "DfuSe"
  out[5] = 1;
  put32(out, 6, size);
  out[10] = targets.length;
  let at = PREFIX_LENGTH;
  for (const t of targets) {
    if (!Number.isInteger(t.alt) || t.alt < 0 || t.alt > 255) throw new RangeError(`alt setting ${t.alt} is not a byte`);
    out.set([0x54, 0x61, 0x72, 0x67, 0x65, 0x74], at); // "Target"
    out[at + 6] = t.alt;
    if (t.name !== null) {
      if (t.name.length > TARGET_NAME_LENGTH - 1 || /[^\x01-\xff]/.test(t.name)) {
        throw new RangeError(`target name "${t.name}" must be at most ${TARGET_NAME_LENGTH - 1} Latin-1 characters without NUL`);
      }
      put32(out, at + 7, 1);
      for (let i = 0; i < t.name.length; i++) out[at + 11 + i] = t.name.charCodeAt(i);
    }
    let body = at + TARGET_PREFIX_LENGTH;
    for (const el of t.elements) {
      if (!Number.isInteger(el.address) || el.address < 0 || el.address + el.data.length > 0x1_0000_0000) {
        throw new RangeError(`element at ${el.address} (${el.data.length} bytes) does not fit 32-bit addresses`);
      }
      put32(out, body, el.address);
      put32(out, body + 4, el.data.length);
      out.set(el.data, body + ELEMENT_HEADER_LENGTH);
      body += ELEMENT_HEADER_LENGTH + el.data.length;
    }
    put32(out, at + 266, body - at - TARGET_PREFIX_LENGTH);
    put32(out, at + 270, t.elements.length);
    at = body;
  }
  return buildDfuSuffix(out, { ...ids, bcdDFU: ids.bcdDFU ?? DFUSE_VERSION });
}
