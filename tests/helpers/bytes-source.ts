// An in-memory BlockSource for driver tests: the bytes as one image, in chunks of a chosen size.
import { createHash } from 'node:crypto';
import type { BlockSource, Chunk } from '../../src/contracts/source.js';

export function bytesSource(bytes: Uint8Array, description = 'test.bin', chunkSize = 65536): BlockSource {
  return {
    size: bytes.length,
    dataBytes: bytes.length,
    exact: true,
    description,
    blockSize: 4096,
    reopenable: true,
    async *chunks(): AsyncIterable<Chunk> {
      for (let at = 0; at < bytes.length; at += chunkSize) yield { kind: 'data', offset: at, bytes: bytes.subarray(at, at + chunkSize) };
    },
    async sha256() {
      return createHash('sha256').update(bytes).digest('hex');
    },
  };
}
