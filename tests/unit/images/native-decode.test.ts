import { describe, expect, it } from 'vitest';
import { decodeRing, type DecodeStep } from '../../../src/images/native-decode.js';

/** A fake library: call i writes the byte i into buffer k and produces `sizes[i]` bytes; the last says no more. */
function fakeLibrary(sizes: number[], outs: Uint8Array[], opts: { failAt?: number } = {}) {
  const log = { calls: 0, running: 0, maxRunning: 0, started: [] as number[], finished: 0, idleAtFinish: true };
  let held = -1;
  const step = async (k: number): Promise<DecodeStep> => {
    if (k === held) throw new Error(`buffer ${k} written while the consumer holds it`);
    const i = log.calls++;
    log.started.push(k);
    log.running++;
    log.maxRunning = Math.max(log.maxRunning, log.running);
    await new Promise((r) => setImmediate(r));
    log.running--;
    if (i === opts.failAt) throw new Error('corrupt data');
    const produced = sizes[i] ?? 0;
    (outs[k] as Uint8Array).fill(i, 0, produced);
    return { produced, more: i < sizes.length - 1 };
  };
  const finish = (): void => {
    log.finished++;
    log.idleAtFinish = log.running === 0;
  };
  return { log, step, finish, hold: (k: number) => (held = k) };
}

const outsOf = (n: number, size = 8): Uint8Array[] => Array.from({ length: n }, () => new Uint8Array(size));

describe('decodeRing', () => {
  it('yields every call\'s bytes in order, skipping empty calls', async () => {
    const outs = outsOf(4);
    const lib = fakeLibrary([3, 0, 8, 1, 5, 2, 7], outs);
    const got: number[][] = [];
    for await (const b of decodeRing(outs, lib.step, lib.finish)) got.push([...b]);
    expect(got).toEqual([[0, 0, 0], [2, 2, 2, 2, 2, 2, 2, 2], [3], [4, 4, 4, 4, 4], [5, 5], [6, 6, 6, 6, 6, 6, 6]]);
    expect(lib.log.finished).toBe(1);
  });

  it('runs ahead into every buffer the consumer does not hold, one call at a time, never into the lent one', async () => {
    const outs = outsOf(4);
    const lib = fakeLibrary(Array.from({ length: 20 }, () => 8), outs);
    let first = true;
    for await (const b of decodeRing(outs, lib.step, lib.finish)) {
      lib.hold(outs.findIndex((o) => o.buffer === b.buffer));
      if (first) {
        first = false;
        // A slow consumer: the library fills the three other buffers meanwhile, and then waits.
        for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
        expect(lib.log.calls).toBe(4);
      }
      lib.hold(-1); // handed back as the loop asks for the next
    }
    expect(lib.log.calls).toBe(20);
    expect(lib.log.maxRunning).toBe(1);
  });

  it('without ahead, calls only when the consumer asks', async () => {
    const outs = outsOf(2);
    const lib = fakeLibrary([8, 8, 8, 8], outs);
    const gen = decodeRing(outs, lib.step, lib.finish, false);
    await gen.next();
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
    expect(lib.log.calls).toBe(1);
    await gen.return(undefined);
    expect(lib.log.finished).toBe(1);
  });

  it('yields what was decoded before a failure, then throws it; finish runs once the library is idle', async () => {
    const outs = outsOf(3);
    const lib = fakeLibrary([8, 8, 8, 8, 8], outs, { failAt: 2 });
    const got: number[] = [];
    await expect((async () => {
      for await (const b of decodeRing(outs, lib.step, lib.finish)) got.push(b[0] as number);
    })()).rejects.toThrow('corrupt data');
    expect(got).toEqual([0, 1]);
    expect(lib.log.finished).toBe(1);
    expect(lib.log.idleAtFinish).toBe(true);
  });

  it('a consumer that stops early waits for the running call before finish', async () => {
    const outs = outsOf(4);
    const lib = fakeLibrary(Array.from({ length: 50 }, () => 8), outs);
    for await (const b of decodeRing(outs, lib.step, lib.finish)) {
      if (b[0] === 1) break;
    }
    expect(lib.log.finished).toBe(1);
    expect(lib.log.idleAtFinish).toBe(true);
    expect(lib.log.calls).toBeLessThan(50);
  });

  it('refuses a ring of one buffer', async () => {
    const outs = outsOf(1);
    const lib = fakeLibrary([8], outs);
    await expect(decodeRing(outs, lib.step, lib.finish).next()).rejects.toThrow(RangeError);
  });
});
