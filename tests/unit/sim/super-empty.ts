// Test helper: a liblp super_empty image (geometry block + metadata 10.x, correct SHA-256s), as lpmake writes one.
import { createHash } from 'node:crypto';

export interface SuperEmptyOptions {
  /** Size of the super block device the metadata describes (must match the device's super partition). */
  superSize: number;
  /** Partition base names; with `slots`, each becomes NAME_a and NAME_b (as Pixel super_empty images list them). */
  partitions: string[];
  slots?: boolean;
  /** Metadata minor version: 0 (128-byte header) or 2 (256-byte header). Default 0. */
  minor?: 0 | 1 | 2;
  metadataMaxSize?: number;
  /** Partition attributes for every partition (default 1, READONLY). */
  attributes?: number;
}

const sha = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest();
const ALIGN = 1024 * 1024;

function name36(b: Buffer, at: number, name: string): void {
  b.write(name, at, 36, 'latin1');
}

/** Offsets of the pieces inside an image from `superEmpty`, for tests that corrupt them. */
export const SUPER_EMPTY_LAYOUT = { geometry: 0, header: 4096 } as const;

export function superEmpty(o: SuperEmptyOptions): Buffer {
  const minor = o.minor ?? 0;
  const maxSize = o.metadataMaxSize ?? 65536;
  const slotCount = o.slots ? 2 : 1;
  const geometry = Buffer.alloc(4096);
  geometry.writeUInt32LE(0x616c4467, 0);
  geometry.writeUInt32LE(52, 4);
  geometry.writeUInt32LE(maxSize, 40);
  geometry.writeUInt32LE(slotCount, 44);
  geometry.writeUInt32LE(4096, 48);
  sha(geometry.subarray(0, 52)).copy(geometry, 8);

  const suffixes = o.slots ? ['_a', '_b'] : [''];
  const groups = ['default', ...suffixes.map((s) => `flashsim_dynamic${s}`)];
  const parts = suffixes.flatMap((s, i) => o.partitions.map((p) => ({ name: `${p}${s}`, group: i + 1 })));
  const partTable = Buffer.alloc(parts.length * 52);
  parts.forEach((p, i) => {
    name36(partTable, i * 52, p.name);
    partTable.writeUInt32LE(o.attributes ?? 1, i * 52 + 36);
    partTable.writeUInt32LE(0, i * 52 + 40); // first extent
    partTable.writeUInt32LE(0, i * 52 + 44); // no extents: empty until resized
    partTable.writeUInt32LE(p.group, i * 52 + 48);
  });
  const groupTable = Buffer.alloc(groups.length * 48);
  groups.forEach((g, i) => {
    name36(groupTable, i * 48, g);
    groupTable.writeBigUInt64LE(i === 0 ? 0n : BigInt(o.superSize / 2), i * 48 + 40);
  });
  const device = Buffer.alloc(64);
  const metadataRegion = 4096 + (4096 + maxSize * slotCount) * 2;
  const firstLogical = Math.ceil(metadataRegion / ALIGN) * ALIGN;
  device.writeBigUInt64LE(BigInt(firstLogical / 512), 0);
  device.writeUInt32LE(ALIGN, 8);
  device.writeBigUInt64LE(BigInt(o.superSize), 16);
  name36(device, 24, 'super');
  const tables = Buffer.concat([partTable, groupTable, device]);

  const headerSize = minor >= 2 ? 256 : 128;
  const header = Buffer.alloc(headerSize);
  header.writeUInt32LE(0x414c5030, 0);
  header.writeUInt16LE(10, 4);
  header.writeUInt16LE(minor, 6);
  header.writeUInt32LE(headerSize, 8);
  header.writeUInt32LE(tables.length, 44);
  sha(tables).copy(header, 48);
  const desc = (at: number, offset: number, count: number, size: number): void => {
    header.writeUInt32LE(offset, at);
    header.writeUInt32LE(count, at + 4);
    header.writeUInt32LE(size, at + 8);
  };
  desc(80, 0, parts.length, 52);
  desc(92, partTable.length, 0, 24);
  desc(104, partTable.length, groups.length, 48);
  desc(116, partTable.length + groupTable.length, 1, 64);
  sha(header).copy(header, 12);
  return Buffer.concat([geometry, header, tables]);
}

/** Recompute the three checksums after a test changed a field (so only that change is wrong). */
export function resealSuperEmpty(img: Buffer): Buffer {
  const b = Buffer.from(img);
  b.fill(0, 8, 40);
  sha(b.subarray(0, b.readUInt32LE(4))).copy(b, 8);
  const h = 4096;
  const headerSize = b.readUInt32LE(h + 8);
  const tablesSize = b.readUInt32LE(h + 44);
  sha(b.subarray(h + headerSize, h + headerSize + tablesSize)).copy(b, h + 48);
  b.fill(0, h + 12, h + 44);
  sha(b.subarray(h, h + headerSize)).copy(b, h + 12);
  return b;
}
