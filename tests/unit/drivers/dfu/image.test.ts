// DFU image input: a source re-cut into wTransferSize blocks (fills expanded, holes as erased flash), read whole, its
// file name, and the choice between parsing a file and streaming a raw one too large to hold.
import { describe, expect, it } from 'vitest';
import type { BlockSource, Chunk } from '../../../../src/contracts/source.js';
import { BUFFER_LIMIT, bytesPayload, loadImage, readSource, sourceName, sourcePayload } from '../../../../src/drivers/dfu/image.js';

function source(chunks: Chunk[], size: number, description = 'fw.bin (raw, 1 KiB)', reopenable = true): BlockSource {
  return {
    size,
    dataBytes: size,
    exact: true,
    description,
    blockSize: 4096,
    reopenable,
    async *chunks() {
      for (const c of chunks) yield c;
    },
    sha256: async () => '',
  };
}

async function all(it: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const b of it) out.push(b.slice());
  return out;
}

describe('sourcePayload', () => {
  it('re-cuts chunks into blocks, expanding fills and holes (0xFF), the last block short', async () => {
    const src = source(
      [
        { kind: 'data', offset: 0, bytes: Uint8Array.of(1, 2, 3) },
        { kind: 'fill', offset: 3, length: 8, value: 0x04030201 },
        { kind: 'skip', offset: 11, length: 2 },
      ],
      13,
    );
    const blocks = await all(sourcePayload(src).blocks(5));
    expect(blocks.map((b) => b.length)).toEqual([5, 5, 3]);
    expect([...blocks.flatMap((b) => [...b])]).toEqual([1, 2, 3, 1, 2, 3, 4, 1, 2, 3, 4, 0xff, 0xff]);
  });

  it('reads twice only from a source that can be reopened', async () => {
    const once = sourcePayload(source([{ kind: 'data', offset: 0, bytes: new Uint8Array(4) }], 4, 'x', false));
    await all(once.blocks(4));
    await expect(all(once.blocks(4))).rejects.toMatchObject({ code: 'internal' });
  });
});

describe('bytesPayload and readSource', () => {
  it('cuts bytes into views and reads a source whole', async () => {
    expect((await all(bytesPayload(Uint8Array.of(1, 2, 3, 4, 5)).blocks(2))).map((b) => [...b])).toEqual([[1, 2], [3, 4], [5]]);
    const bytes = await readSource(source([{ kind: 'data', offset: 0, bytes: Uint8Array.of(9, 8) }, { kind: 'fill', offset: 2, length: 4, value: 0 }], 6));
    expect([...bytes]).toEqual([9, 8, 0, 0, 0, 0]);
  });
});

describe('loadImage', () => {
  it('parses a small file and names it from the source', async () => {
    const img = await loadImage(source([{ kind: 'data', offset: 0, bytes: Uint8Array.of(1, 2, 3) }], 3));
    expect(img).toMatchObject({ kind: 'file', name: 'fw.bin', file: { kind: 'raw' } });
    expect(sourceName(source([], 0, 'a b.dfu (raw in zip, 2 KiB)'))).toBe('a b.dfu');
  });

  it('streams a raw file past the buffer limit, and refuses a .dfu file that large', async () => {
    const big = source([], BUFFER_LIMIT + 1, 'rootfs.img (raw, 64 MiB)');
    expect(await loadImage(big)).toMatchObject({ kind: 'stream', name: 'rootfs.img' });
    await expect(loadImage(source([], BUFFER_LIMIT + 1, 'fw.dfu (raw, 64 MiB)'))).rejects.toMatchObject({ code: 'image_too_large' });
    await expect(readSource(big)).rejects.toMatchObject({ code: 'image_too_large' });
  });
});
