// A download counts exactly the piece's data bytes towards progress, in order, however its bytes are sliced; and
// a cancel finishes the download with zeros so the device is left answering; when it cannot, the error says so.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Transport } from '../../../src/contracts/links.js';
import { FastbootClient } from '../../../src/drivers/fastboot/client.js';
import { sendDownload } from '../../../src/drivers/fastboot/download.js';

/** A device end in memory: answers `download:` with DATA, counts the bytes, answers OKAY when all have come. */
class MemoryDevice implements Transport {
  readonly kind = 'sim' as const;
  closed = false;
  expecting = 0;
  received = 0;
  commands: string[] = [];
  private replies: string[] = [];
  async write(data: Uint8Array): Promise<void> {
    if (this.expecting > 0) {
      this.received += data.length;
      this.expecting -= data.length;
      if (this.expecting === 0) this.replies.push('OKAY');
      return;
    }
    const cmd = new TextDecoder().decode(data);
    this.commands.push(cmd);
    if (cmd.startsWith('download:')) {
      this.expecting = parseInt(cmd.slice(9), 16);
      this.replies.push(`DATA${cmd.slice(9)}`);
    } else this.replies.push('OKAY');
  }
  async drain(): Promise<void> {}
  async read(): Promise<Uint8Array> {
    const r = this.replies.shift();
    if (!r) throw new Error('nothing to read');
    return new TextEncoder().encode(r);
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

function context(onMoved: (n: number) => void, abort = new AbortController()) {
  return {
    jobId: 'j',
    deviceId: 'd',
    signal: abort.signal,
    gate: { pass: async () => undefined },
    throttle: { take: async () => undefined },
    moved: onMoved,
    stage: () => undefined,
    log: () => undefined,
    waitForDevice: () => Promise.reject(new Error('no')),
  };
}

async function* slices(sizes: number[]): AsyncIterable<Uint8Array> {
  for (const n of sizes) yield new Uint8Array(n);
}

describe('sendDownload', () => {
  it('moves exactly the data bytes, never backwards, for any slicing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 30 }), fc.double({ min: 0, max: 1, noNaN: true }), async (sizes, share) => {
        const length = sizes.reduce((a, b) => a + b, 0);
        const dataBytes = Math.floor(length * share);
        const dev = new MemoryDevice();
        const steps: number[] = [];
        await sendDownload(new FastbootClient(dev, { timeoutMs: 1000 }), { length, dataBytes, bytes: slices(sizes), what: 'test' }, context((n) => steps.push(n)));
        expect(steps.every((n) => n > 0)).toBe(true);
        expect(steps.reduce((a, b) => a + b, 0)).toBe(dataBytes);
        expect(dev.received).toBe(length);
        expect(dev.commands).toEqual([`download:${length.toString(16).padStart(8, '0')}`]);
      }),
      { numRuns: 60 },
    );
  });

  it('on cancel finishes the download with zeros and flashes nothing', async () => {
    const dev = new MemoryDevice();
    const abort = new AbortController();
    let moved = 0;
    const ctx = context((n) => {
      moved += n;
      if (moved >= 3000) abort.abort();
    }, abort);
    await expect(
      sendDownload(new FastbootClient(dev, { timeoutMs: 1000 }), { length: 10_000, dataBytes: 10_000, bytes: slices([1000, 1000, 1000, 1000, 6000]), what: 'test' }, ctx),
    ).rejects.toMatchObject({ code: 'cancelled' });
    expect(dev.received).toBe(10_000);
    expect(dev.expecting).toBe(0);
    expect(moved).toBe(3000);
    expect(dev.closed).toBe(false);
  });

  it('when the device stops taking bytes during a cancel, the error says the download was left half-sent and where', async () => {
    const dev = new MemoryDevice();
    const abort = new AbortController();
    const write = dev.write.bind(dev);
    dev.write = async (data) => {
      if (abort.signal.aborted) throw new Error('device unplugged');
      return write(data);
    };
    const logs: string[] = [];
    const ctx = {
      ...context((n) => {
        if (n > 0) abort.abort();
      }, abort),
      log: (_level: string, text: string) => void logs.push(text),
    };
    const err = await sendDownload(new FastbootClient(dev, { timeoutMs: 1000 }), { length: 4000, dataBytes: 4000, bytes: slices([1000, 3000]), what: 'system_a, piece 1/2' }, ctx).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'cancelled' });
    expect((err as Error).message).toMatch(/download of system_a, piece 1\/2 was left half-sent at byte 1000 of 4000 \(device unplugged\)/);
    expect((err as Error).message).toMatch(/reboot the device into fastboot/);
    expect(logs.some((l) => /left half-sent at byte 1000/.test(l))).toBe(true);
    expect(dev.closed).toBe(true);
  });

  it('a transfer that fails part-way says how many bytes had gone and that the download was left half-sent', async () => {
    const dev = new MemoryDevice();
    const write = dev.write.bind(dev);
    dev.write = async (data) => {
      if (dev.received >= 2000) throw new Error('pipe broke');
      return write(data);
    };
    const err = await sendDownload(new FastbootClient(dev, { timeoutMs: 1000 }), { length: 5000, dataBytes: 5000, bytes: slices([1000, 1000, 3000]), what: 'boot' }, context(() => undefined)).catch(
      (e: unknown) => e,
    );
    expect((err as Error).message).toMatch(/2000 of 5000 bytes of boot had been sent; the download was left half-sent/);
    expect(dev.closed).toBe(true);
  });
});
