// Format sniffing by magic bytes (never by file name).
export type ImageFormat = 'sparse' | 'gzip' | 'xz' | 'zstd' | 'bzip2' | 'zip' | 'raw';

/** Bytes `sniff` needs to decide. */
export const SNIFF_BYTES = 32;

export function sniff(head: Uint8Array): ImageFormat {
  const b = (i: number): number => head[i] ?? -1;
  if (b(0) === 0x3a && b(1) === 0xff && b(2) === 0x26 && b(3) === 0xed) return 'sparse';
  if (b(0) === 0x1f && b(1) === 0x8b && b(2) === 8) return 'gzip';
  if (b(0) === 0xfd && b(1) === 0x37 && b(2) === 0x7a && b(3) === 0x58 && b(4) === 0x5a && b(5) === 0) return 'xz';
  if (b(0) === 0x28 && b(1) === 0xb5 && b(2) === 0x2f && b(3) === 0xfd) return 'zstd';
  if (b(0) === 0x42 && b(1) === 0x5a && b(2) === 0x68 && b(3) >= 0x31 && b(3) <= 0x39) {
    // block magic (pi) or end-of-stream magic (sqrt pi) right after the header
    const pi = b(4) === 0x31 && b(5) === 0x41 && b(6) === 0x59 && b(7) === 0x26;
    const eos = b(4) === 0x17 && b(5) === 0x72 && b(6) === 0x45 && b(7) === 0x38;
    if (pi || eos) return 'bzip2';
  }
  if (b(0) === 0x50 && b(1) === 0x4b && ((b(2) === 3 && b(3) === 4) || (b(2) === 5 && b(3) === 6))) return 'zip';
  return 'raw';
}
