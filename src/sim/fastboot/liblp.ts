// liblp metadata as fastbootd reads a super_empty image (geometry block, then one metadata copy), validated like liblp.
import { createHash } from 'node:crypto';

export const LP_GEOMETRY_MAGIC = 0x616c4467;
export const LP_HEADER_MAGIC = 0x414c5030;
/** The geometry block: the struct, zero-padded. In a super_empty image it comes first; on `super` at 4096 (and 8192). */
export const LP_GEOMETRY_SIZE = 4096;
/** Bytes kept clear at the start of a super partition (not part of a super_empty image). */
export const LP_PARTITION_RESERVED_BYTES = 4096;
export const LP_SECTOR_SIZE = 512;
export const LP_MAJOR_VERSION = 10;
export const LP_MINOR_VERSION_MAX = 2;
/** Struct sizes of metadata format 10.x. */
export const LP_SIZES = { geometry: 52, headerV1_0: 128, headerV1_2: 256, partition: 52, extent: 24, group: 48, blockDevice: 64 } as const;
export const LP_ATTR_READONLY = 1;
export const LP_ATTR_SLOT_SUFFIXED = 2;
/** READONLY | SLOT_SUFFIXED; minor version 1 adds UPDATED and DISABLED. */
const ATTR_MASK_V0 = 0x3;
const ATTR_MASK_V1 = 0xc;
const TARGET_LINEAR = 0;

export class LpMetadataError extends Error {
  override name = 'LpMetadataError';
}

export interface LpGeometry {
  metadataMaxSize: number;
  metadataSlotCount: number;
  logicalBlockSize: number;
}

export interface LpPartition {
  name: string;
  attributes: number;
  group: string;
  /** Sum of its extents in bytes (0 in a super_empty image: partitions get space when resized). */
  size: number;
}

export interface LpBlockDevice {
  partitionName: string;
  size: number;
  firstLogicalSector: number;
  flags: number;
}

export interface LpMetadata {
  geometry: LpGeometry;
  major: number;
  minor: number;
  partitions: LpPartition[];
  groups: Array<{ name: string; flags: number; maximumSize: number }>;
  blockDevices: LpBlockDevice[];
}

const sha256 = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest();
const hex32 = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

function fixedName(b: Buffer, at: number): string {
  const raw = b.subarray(at, at + 36);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul < 0 ? 36 : nul).toString('latin1');
}

function u64(b: Buffer, at: number): number {
  const v = b.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new LpMetadataError(`a 64-bit field at byte ${at} is out of range (${v})`);
  return Number(v);
}

/** The geometry struct at the start of `block` (ParseGeometry). */
export function parseGeometry(block: Buffer): LpGeometry {
  if (block.length < LP_SIZES.geometry) throw new LpMetadataError(`the geometry needs ${LP_SIZES.geometry} bytes, got ${block.length}`);
  const magic = block.readUInt32LE(0);
  if (magic !== LP_GEOMETRY_MAGIC) throw new LpMetadataError(`invalid geometry magic ${hex32(magic)} (expected ${hex32(LP_GEOMETRY_MAGIC)})`);
  const structSize = block.readUInt32LE(4);
  if (structSize > LP_SIZES.geometry) throw new LpMetadataError(`the geometry has unrecognized fields (struct_size ${structSize} > ${LP_SIZES.geometry})`);
  const copy = Buffer.from(block.subarray(0, structSize));
  copy.fill(0, 8, 40);
  if (!sha256(copy).equals(block.subarray(8, 40))) throw new LpMetadataError('invalid geometry checksum (SHA-256 does not match)');
  if (structSize !== LP_SIZES.geometry) throw new LpMetadataError(`invalid geometry struct_size ${structSize} (expected ${LP_SIZES.geometry})`);
  const geometry = { metadataMaxSize: block.readUInt32LE(40), metadataSlotCount: block.readUInt32LE(44), logicalBlockSize: block.readUInt32LE(48) };
  if (geometry.metadataSlotCount === 0) throw new LpMetadataError('invalid metadata slot count 0');
  if (geometry.metadataMaxSize % LP_SECTOR_SIZE !== 0) throw new LpMetadataError(`metadata max size ${geometry.metadataMaxSize} is not sector-aligned`);
  return geometry;
}

interface Table {
  offset: number;
  count: number;
  entrySize: number;
}

/** One metadata copy (header + tables) at the start of `b` (ParseMetadata). */
export function parseMetadata(geometry: LpGeometry, b: Buffer): LpMetadata {
  if (b.length < LP_SIZES.headerV1_0) throw new LpMetadataError(`the metadata header needs ${LP_SIZES.headerV1_0} bytes, got ${b.length}`);
  const magic = b.readUInt32LE(0);
  if (magic !== LP_HEADER_MAGIC) throw new LpMetadataError(`invalid metadata header magic ${hex32(magic)} (expected ${hex32(LP_HEADER_MAGIC)})`);
  const major = b.readUInt16LE(4);
  const minor = b.readUInt16LE(6);
  if (major !== LP_MAJOR_VERSION || minor > LP_MINOR_VERSION_MAX) {
    throw new LpMetadataError(`incompatible metadata version ${major}.${minor} (this device reads ${LP_MAJOR_VERSION}.0–${LP_MAJOR_VERSION}.${LP_MINOR_VERSION_MAX})`);
  }
  const headerSize = b.readUInt32LE(8);
  const expected = minor >= 2 ? LP_SIZES.headerV1_2 : LP_SIZES.headerV1_0;
  if (headerSize !== expected) throw new LpMetadataError(`invalid metadata header size ${headerSize} for version ${major}.${minor} (expected ${expected})`);
  if (b.length < headerSize) throw new LpMetadataError(`the metadata header needs ${headerSize} bytes, got ${b.length}`);
  const header = Buffer.from(b.subarray(0, headerSize));
  header.fill(0, 12, 44);
  if (!sha256(header).equals(b.subarray(12, 44))) throw new LpMetadataError('invalid metadata header checksum (SHA-256 does not match)');
  const tablesSize = b.readUInt32LE(44);
  const table = (at: number): Table => ({ offset: b.readUInt32LE(at), count: b.readUInt32LE(at + 4), entrySize: b.readUInt32LE(at + 8) });
  const tables = { partitions: table(80), extents: table(92), groups: table(104), blockDevices: table(116) };
  for (const [name, t] of Object.entries(tables)) {
    if (t.offset > tablesSize || tablesSize - t.offset < t.count * t.entrySize) {
      throw new LpMetadataError(`the ${name} table (offset ${t.offset}, ${t.count} × ${t.entrySize} bytes) is outside the ${tablesSize}-byte tables`);
    }
  }
  const sizes = { partitions: LP_SIZES.partition, extents: LP_SIZES.extent, groups: LP_SIZES.group, blockDevices: LP_SIZES.blockDevice };
  for (const [name, size] of Object.entries(sizes)) {
    const t = tables[name as keyof typeof tables];
    if (t.entrySize !== size) throw new LpMetadataError(`invalid ${name} table entry size ${t.entrySize} (expected ${size})`);
  }
  if (tablesSize > geometry.metadataMaxSize) throw new LpMetadataError(`the tables (${tablesSize} bytes) exceed the metadata max size ${geometry.metadataMaxSize}`);
  if (b.length < headerSize + tablesSize) throw new LpMetadataError(`the image ends before its tables (${headerSize + tablesSize} bytes of metadata, ${b.length} present)`);
  const t = b.subarray(headerSize, headerSize + tablesSize);
  if (!sha256(t).equals(b.subarray(48, 80))) throw new LpMetadataError('invalid metadata tables checksum (SHA-256 does not match)');

  const extents: Array<{ sectors: number; type: number; source: number }> = [];
  for (let i = 0; i < tables.extents.count; i++) {
    const at = tables.extents.offset + i * LP_SIZES.extent;
    const e = { sectors: u64(t, at), type: t.readUInt32LE(at + 8), source: t.readUInt32LE(at + 20) };
    if (e.type === TARGET_LINEAR && e.source >= tables.blockDevices.count) throw new LpMetadataError(`extent ${i} names block device ${e.source}, which does not exist`);
    extents.push(e);
  }
  const groups: LpMetadata['groups'] = [];
  for (let i = 0; i < tables.groups.count; i++) {
    const at = tables.groups.offset + i * LP_SIZES.group;
    groups.push({ name: fixedName(t, at), flags: t.readUInt32LE(at + 36), maximumSize: u64(t, at + 40) });
  }
  const validAttributes = ATTR_MASK_V0 | (minor >= 1 ? ATTR_MASK_V1 : 0);
  const partitions: LpPartition[] = [];
  for (let i = 0; i < tables.partitions.count; i++) {
    const at = tables.partitions.offset + i * LP_SIZES.partition;
    const name = fixedName(t, at);
    const attributes = t.readUInt32LE(at + 36);
    const first = t.readUInt32LE(at + 40);
    const count = t.readUInt32LE(at + 44);
    const groupIndex = t.readUInt32LE(at + 48);
    if (attributes & ~validAttributes) throw new LpMetadataError(`partition "${name}" has invalid attributes ${hex32(attributes)}`);
    if (first + count > tables.extents.count) throw new LpMetadataError(`partition "${name}" has an invalid extent list`);
    const group = groups[groupIndex];
    if (!group) throw new LpMetadataError(`partition "${name}" has an invalid group index ${groupIndex}`);
    const size = extents.slice(first, first + count).reduce((n, e) => n + e.sectors * LP_SECTOR_SIZE, 0);
    partitions.push({ name, attributes, group: group.name, size });
  }
  const blockDevices: LpBlockDevice[] = [];
  for (let i = 0; i < tables.blockDevices.count; i++) {
    const at = tables.blockDevices.offset + i * LP_SIZES.blockDevice;
    blockDevices.push({ firstLogicalSector: u64(t, at), size: u64(t, at + 16), partitionName: fixedName(t, at + 24), flags: t.readUInt32LE(at + 60) });
  }
  const superDevice = blockDevices[0];
  if (!superDevice) throw new LpMetadataError('the metadata names no super block device');
  const metadataRegion = LP_PARTITION_RESERVED_BYTES + (LP_GEOMETRY_SIZE + geometry.metadataMaxSize * geometry.metadataSlotCount) * 2;
  if (metadataRegion > superDevice.firstLogicalSector * LP_SECTOR_SIZE) {
    throw new LpMetadataError(`the metadata area (${metadataRegion} bytes) overlaps the logical partitions (first logical sector ${superDevice.firstLogicalSector})`);
  }
  return { geometry, major, minor, partitions, groups, blockDevices };
}

/** A super_empty image as `update-super` takes it (liblp ReadFromImageBlob): geometry block, then the metadata. */
export function parseSuperEmpty(image: Uint8Array): LpMetadata {
  const b = Buffer.from(image.buffer, image.byteOffset, image.byteLength);
  if (b.length < LP_GEOMETRY_SIZE) throw new LpMetadataError(`${b.length} bytes is smaller than the ${LP_GEOMETRY_SIZE}-byte geometry block`);
  const geometry = parseGeometry(b.subarray(0, LP_GEOMETRY_SIZE));
  return parseMetadata(geometry, b.subarray(LP_GEOMETRY_SIZE));
}
