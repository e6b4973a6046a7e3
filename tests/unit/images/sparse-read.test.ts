// The sparse reader on hand-made files: every chunk type, odd block sizes, larger headers, and broken tables.
import { describe, expect, it } from 'vitest';
import { memoryByteSource } from '../../../src/images/byte-source.js';
import { openByteSource } from '../../../src/images/open.js';
import { parseSparseHeader } from '../../../src/images/sparse-format.js';
import { indexSparseFile } from '../../../src/images/sparse-source.js';

type C = { type: 'raw'; blocks: number; byte: number } | { type: 'fill'; blocks: number; value: number } | { type: 'skip'; blocks: number } | { type: 'crc' };

/** Build a sparse file with chosen header sizes (extra header bytes are filled with 0x77 to prove they are skipped). */
function sparse(bs: number, chunks: C[], o: { fileHdr?: number; chunkHdr?: number; major?: number; totalBlocks?: number } = {}): Buffer {
  const fh = o.fileHdr ?? 28;
  const ch = o.chunkHdr ?? 12;
  const parts: Buffer[] = [];
  let blocks = 0;
  for (const c of chunks) {
    const body = c.type === 'raw' ? Buffer.alloc(c.blocks * bs, c.byte) : c.type === 'skip' ? Buffer.alloc(0) : Buffer.alloc(4);
    if (c.type === 'fill') body.writeUInt32LE(c.value, 0);
    const h = Buffer.alloc(ch, 0x77);
    h.writeUInt16LE({ raw: 0xcac1, fill: 0xcac2, skip: 0xcac3, crc: 0xcac4 }[c.type], 0);
    h.writeUInt16LE(0, 2);
    const n = c.type === 'crc' ? 0 : c.blocks;
    h.writeUInt32LE(n, 4);
    h.writeUInt32LE(ch + body.length, 8);
    blocks += n;
    parts.push(h, body);
  }
  const head = Buffer.alloc(fh, 0x77);
  head.writeUInt32LE(0xed26ff3a, 0);
  head.writeUInt16LE(o.major ?? 1, 4);
  head.writeUInt16LE(0, 6);
  head.writeUInt16LE(fh, 8);
  head.writeUInt16LE(ch, 10);
  head.writeUInt32LE(bs, 12);
  head.writeUInt32LE(o.totalBlocks ?? blocks, 16);
  head.writeUInt32LE(chunks.length, 20);
  head.writeUInt32LE(0, 24);
  return Buffer.concat([head, ...parts]);
}

async function expand(file: Buffer, viaStream = false): Promise<Buffer> {
  const ms = memoryByteSource(file, 'test.simg', 1000);
  const src = await openByteSource(viaStream ? { ...ms, readAt: undefined } : ms, { name: 'test.simg', hash: false, chain: [] });
  const out = Buffer.alloc(src.size, 0xee);
  for await (const c of src.chunks()) {
    if (c.kind === 'data') out.set(c.bytes, c.offset);
    else if (c.kind === 'fill') for (let i = 0; i < c.length; i += 4) out.writeUInt32LE(c.value, c.offset + i);
    else out.fill(0, c.offset, c.offset + c.length);
  }
  return out;
}

describe('sparse reader', () => {
  for (const viaStream of [false, true]) {
    it(`reads all four chunk types, block size 8, 32/16-byte headers (${viaStream ? 'stream' : 'file'})`, async () => {
      const f = sparse(8, [{ type: 'raw', blocks: 2, byte: 5 }, { type: 'crc' }, { type: 'fill', blocks: 3, value: 0xa1b2c3d4 }, { type: 'skip', blocks: 1 }, { type: 'raw', blocks: 1, byte: 9 }], { fileHdr: 32, chunkHdr: 16 });
      const out = await expand(f, viaStream);
      expect(out.length).toBe(7 * 8);
      expect(out.subarray(0, 16).every((b) => b === 5)).toBe(true);
      for (let i = 16; i < 40; i += 4) expect(out.readUInt32LE(i)).toBe(0xa1b2c3d4);
      expect(out.subarray(40, 48).every((b) => b === 0)).toBe(true);
      expect(out.subarray(48, 56).every((b) => b === 9)).toBe(true);
    });
  }

  it('accepts a block size of 4 and of 65536', async () => {
    expect((await expand(sparse(4, [{ type: 'fill', blocks: 5, value: 7 }]))).length).toBe(20);
    expect((await expand(sparse(65536, [{ type: 'raw', blocks: 1, byte: 1 }]))).length).toBe(65536);
  });

  it('refuses a block size that is not a multiple of 4', async () => {
    await expect(expand(sparse(6, [{ type: 'skip', blocks: 1 }]))).rejects.toThrow(/multiple of 4/);
  });

  it('refuses chunk sizes that do not add up to total_blks, before streaming (file) or at the end (stream)', async () => {
    const f = sparse(8, [{ type: 'raw', blocks: 2, byte: 5 }], { totalBlocks: 3 });
    await expect(expand(f)).rejects.toMatchObject({ code: 'image_invalid', message: expect.stringMatching(/cover 2 blocks but the header says 3/) });
    await expect(expand(f, true)).rejects.toMatchObject({ code: 'image_invalid' });
  });

  it('refuses major version 2 and a raw chunk whose size disagrees with its blocks', async () => {
    await expect(expand(sparse(8, [{ type: 'skip', blocks: 1 }], { major: 2 }))).rejects.toThrow(/version 2/);
    const f = sparse(8, [{ type: 'raw', blocks: 2, byte: 5 }]);
    f.writeUInt32LE(12 + 8, 28 + 8); // total_sz says one block
    await expect(expand(f)).rejects.toThrow(/holds 8 bytes, not 2 blocks/);
  });

  it('refuses an unknown chunk type', async () => {
    const f = sparse(8, [{ type: 'skip', blocks: 1 }]);
    f.writeUInt16LE(0xcac9, 28);
    await expect(expand(f)).rejects.toThrow(/unknown type 0xcac9/);
  });

  it('stops indexing a file’s chunk table when cancelled', async () => {
    const f = sparse(8, [{ type: 'raw', blocks: 1, byte: 1 }, { type: 'skip', blocks: 3 }, { type: 'fill', blocks: 2, value: 7 }]);
    const h = parseSparseHeader(f);
    const ac = new AbortController();
    ac.abort(new Error('cancelled by the operator'));
    await expect(indexSparseFile(memoryByteSource(f), h, f.length, ac.signal)).rejects.toThrow('cancelled by the operator');
    const ix = await indexSparseFile(memoryByteSource(f), h, f.length);
    expect([...ix.kinds]).toEqual([0, 2, 1]);
    expect(ix.dataBytes).toBe(8);
  });
});
