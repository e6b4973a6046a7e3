// Small ESP images for tests: an app with a real header (magic, chip id), a partition table, filler data.
export function espApp(size: number, chipId: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = i % 5 === 0 ? (x >>> 24) & 0xff : (i >> 6) & 0xff;
  }
  out.set([0xe9, 0x03, 0x02, 0x20, 0x00, 0x10, 0x08, 0x40, 0xee, 0, 0, 0, chipId & 0xff, chipId >> 8, 0, 0], 0);
  out.fill(0, 14, 24);
  return out;
}

export interface TestPartition {
  label: string;
  type: number;
  subtype: number;
  offset: number;
  size: number;
}

export function partitionTable(parts: TestPartition[]): Uint8Array {
  const out = new Uint8Array(0xc00).fill(0xff);
  const v = new DataView(out.buffer);
  parts.forEach((p, i) => {
    const at = i * 32;
    out[at] = 0xaa;
    out[at + 1] = 0x50;
    out[at + 2] = p.type;
    out[at + 3] = p.subtype;
    v.setUint32(at + 4, p.offset, true);
    v.setUint32(at + 8, p.size, true);
    out.fill(0, at + 12, at + 28);
    out.set(new TextEncoder().encode(p.label).subarray(0, 16), at + 12);
    v.setUint32(at + 28, 0, true);
  });
  return out;
}

export const DEFAULT_PARTITIONS: TestPartition[] = [
  { label: 'nvs', type: 1, subtype: 2, offset: 0x9000, size: 0x6000 },
  { label: 'phy_init', type: 1, subtype: 1, offset: 0xf000, size: 0x1000 },
  { label: 'factory', type: 0, subtype: 0, offset: 0x10000, size: 0x100000 },
];
