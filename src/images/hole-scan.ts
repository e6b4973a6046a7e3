// Find 4096-byte blocks made of one repeated 32-bit word (zeros included) in raw data: they travel as FILL chunks.
import type { Chunk } from '../contracts/source.js';

export const SCAN_BLOCK = 4096;

/**
 * Split `bytes` (image bytes starting at `offset`, a multiple of 4096) into data and fill chunks, appended to `out`.
 * Whole 4096-byte blocks whose bytes repeat with period 4 become fills; adjacent fills of one value merge, and so do
 * adjacent data blocks (as views into `bytes`, no copy). A final partial block is data.
 */
export function scanFills(bytes: Uint8Array, offset: number, out: Chunk[]): void {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const n = b.length;
  let runStart = 0;
  let runFill = false;
  let runValue = 0;
  let i = 0;
  const flush = (end: number): void => {
    if (end <= runStart) return;
    if (runFill) out.push({ kind: 'fill', offset: offset + runStart, length: end - runStart, value: runValue });
    else out.push({ kind: 'data', offset: offset + runStart, bytes: bytes.subarray(runStart, end) });
    runStart = end;
  };
  for (; i + SCAN_BLOCK <= n; i += SCAN_BLOCK) {
    // Period 4 ⇔ bytes [i, i+4092) equal bytes [i+4, i+4096): one memcmp, which fails fast on real data.
    const isFill =
      b[i] === b[i + 4] && b[i + 1] === b[i + 5] && b.compare(b, i + 4, i + SCAN_BLOCK, i, i + SCAN_BLOCK - 4) === 0;
    if (isFill) {
      const v = b.readUInt32LE(i);
      if (!runFill || v !== runValue) {
        flush(i);
        runFill = true;
        runValue = v;
      }
    } else if (runFill) {
      flush(i);
      runFill = false;
    }
  }
  if (i < n && runFill) flush(i);
  if (i < n) runFill = false;
  flush(n);
}
