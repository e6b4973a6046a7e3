// Helpers for image tests: random images with holes and fill blocks, expanding a BlockSource, temp dirs.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BlockSource } from '../../../src/contracts/source.js';

/** A small deterministic PRNG (mulberry32) so failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An image of `blocks` 4096-byte blocks in runs of random data, zeros and repeated words, plus `tail` extra bytes. */
export function randomImage(seed: number, blocks: number, tail = 0): Buffer {
  const r = rng(seed);
  const out = Buffer.alloc(blocks * 4096 + tail);
  let b = 0;
  while (b < blocks) {
    const run = Math.min(blocks - b, 1 + Math.floor(r() * 40));
    const kind = r();
    const start = b * 4096;
    const end = (b + run) * 4096;
    if (kind < 0.45) {
      for (let i = start; i < end; i += 4) out.writeUInt32LE(Math.floor(r() * 0x100000000), i);
    } else if (kind < 0.75) {
      // zeros: already
    } else {
      const v = Math.floor(r() * 0x100000000);
      for (let i = start; i < end; i += 4) out.writeUInt32LE(v, i);
    }
    b += run;
  }
  for (let i = blocks * 4096; i < out.length; i++) out[i] = Math.floor(r() * 256);
  return out;
}

/** The expanded bytes of a source (skips as zeros, as simg2img writes them). */
export async function expand(source: BlockSource, signal?: AbortSignal): Promise<Buffer> {
  const out = Buffer.alloc(source.size);
  for await (const c of source.chunks(signal)) {
    if (c.kind === 'data') out.set(c.bytes, c.offset);
    else if (c.kind === 'fill') {
      for (let i = 0; i < c.length; i += 4) out.writeUInt32LE(c.value >>> 0, c.offset + i);
    }
  }
  return out;
}

export async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const b of it) parts.push(b);
  return Buffer.concat(parts);
}

export function tempDir(prefix = 'fs-images-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Make a zip with Python's zipfile (python3 is on every CI machine; the `zip` tool may not be).
 * `files` maps entry names to paths on disk; `stored` keeps entries uncompressed.
 */
export function makeZip(zipPath: string, files: Record<string, string>, stored = false): void {
  const script = [
    'import json, sys, zipfile',
    'out, files, stored = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3] == "1"',
    'with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED) as z:',
    '    for name, path in files.items(): z.write(path, name)',
  ].join('\n');
  execFileSync('python3', ['-c', script, zipPath, JSON.stringify(files), stored ? '1' : '0']);
}
