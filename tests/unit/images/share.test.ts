// Decode once, write many: consumers see identical chunks, the source is read once, the buffer stays bounded.
import { describe, expect, it } from 'vitest';
import type { BlockSource, Chunk } from '../../../src/contracts/source.js';
import { shareSource } from '../../../src/images/index.js';

function counting(n: number, size = 1024): { source: BlockSource; pulled: () => number } {
  let pulled = 0;
  const source: BlockSource = {
    size: n * size, dataBytes: n * size, exact: true, description: 'counting', blockSize: 4096, reopenable: false,
    async *chunks() {
      for (let i = 0; i < n; i++) {
        pulled++;
        yield { kind: 'data', offset: i * size, bytes: new Uint8Array(size).fill(i & 0xff) } satisfies Chunk;
      }
    },
    sha256: () => Promise.resolve('abc'),
  };
  return { source, pulled: () => pulled };
}

describe('shareSource', () => {
  it('gives every consumer the same chunks while reading the source once', async () => {
    const { source, pulled } = counting(200);
    const views = shareSource(source, 3, { bufferBytes: 8 * 1024 });
    const seen = await Promise.all(views.map(async (v) => {
      const offs: number[] = [];
      for await (const c of v.chunks()) {
        offs.push(c.offset);
        if (c.kind === 'data') expect(c.bytes[0]).toBe((c.offset / 1024) & 0xff);
      }
      return offs;
    }));
    expect(pulled()).toBe(200);
    for (const s of seen) expect(s).toEqual(seen[0]);
    expect(seen[0]).toHaveLength(200);
    expect(await views[0]?.sha256()).toBe('abc');
  });

  it('keeps the fastest consumer within the buffer of the slowest', async () => {
    const { source, pulled } = counting(100);
    const [fast, slow] = shareSource(source, 2, { bufferBytes: 4 * 1024 });
    if (!fast || !slow) throw new Error('two views');
    const slowIt = slow.chunks()[Symbol.asyncIterator]();
    await slowIt.next(); // slow reads one chunk, then stalls
    let fastCount = 0;
    const fastDone = (async () => {
      for await (const _ of fast.chunks()) fastCount++;
    })();
    await new Promise((r) => setTimeout(r, 50));
    expect(pulled()).toBeLessThanOrEqual(1 + 5); // at most the buffer (4 chunks) ahead of the slow one, plus one in flight
    expect(fastCount).toBeLessThan(10);
    for (let r = await slowIt.next(); !r.done; r = await slowIt.next()) { /* drain */ }
    await fastDone;
    expect(fastCount).toBe(100);
  });

  it('a consumer that aborts or is released does not stall the others', async () => {
    const { source } = counting(100);
    const [a, b, c] = shareSource(source, 3, { bufferBytes: 2 * 1024 });
    if (!a || !b || !c) throw new Error('three views');
    c.release(); // never starts
    const ac = new AbortController();
    const aborted = (async () => {
      let n = 0;
      for await (const _ of b.chunks(ac.signal)) if (++n === 2) ac.abort(); // b stops while a has not started
    })();
    await expect(aborted).rejects.toMatchObject({ code: 'cancelled' });
    let n = 0;
    for await (const _ of a.chunks()) n++;
    expect(n).toBe(100);
  });

  it('passes a source error to every consumer', async () => {
    const source: BlockSource = {
      size: 2048, dataBytes: 2048, exact: true, description: 'broken', blockSize: 4096, reopenable: false,
      async *chunks() {
        yield { kind: 'data', offset: 0, bytes: new Uint8Array(1024) } satisfies Chunk;
        throw new Error('xz stream is truncated');
      },
      sha256: () => Promise.resolve(''),
    };
    const views = shareSource(source, 2);
    for (const r of await Promise.allSettled(views.map(async (v) => {
      for await (const _ of v.chunks()) { /* read */ }
    }))) {
      expect(r.status).toBe('rejected');
      if (r.status === 'rejected') expect(String(r.reason)).toMatch(/truncated/);
    }
  });
});
