// Parsers of the simulator: sizes and durations, `--sim` specs, the sparse reader and the extent set.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExtentSet } from '../../../src/sim/fastboot/extents.js';
import { bufferReader } from '../../../src/sim/fastboot/download-store.js';
import { parseSparse, SparseError } from '../../../src/sim/fastboot/sparse.js';
import { parseSimSpec } from '../../../src/sim/fastboot/spec.js';
import { parseDuration, parseSize } from '../../../src/sim/units.js';
import { sparseImage } from './harness.js';

describe('parseSize / parseDuration', () => {
  it('reads K/M/G as powers of 1024 and 0x hex', () => {
    expect(parseSize('4096')).toBe(4096);
    expect(parseSize('64K')).toBe(65536);
    expect(parseSize('16M')).toBe(16 * 1024 ** 2);
    expect(parseSize('2G')).toBe(2 * 1024 ** 3);
    expect(parseSize('1.5M')).toBe(1.5 * 1024 ** 2);
    expect(parseSize('0x1000')).toBe(4096);
    expect(parseSize('8MiB')).toBe(8 * 1024 ** 2);
    for (const bad of ['', 'M', '-1', '1.3', '12Q', '0x']) expect(() => parseSize(bad)).toThrow(RangeError);
  });

  it('round-trips any size written with a suffix', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1 << 20 }), fc.constantFrom(['', 1], ['K', 1024], ['M', 1024 ** 2]), (n, [unit, mul]) => {
        expect(parseSize(`${n}${unit}`)).toBe(n * mul);
        expect(parseSize(`0x${(n * mul).toString(16)}`)).toBe(n * mul);
      }),
    );
  });

  it('reads durations in ms by default, with us/ms/s units', () => {
    expect(parseDuration('250')).toBe(250);
    expect(parseDuration('100us')).toBeCloseTo(0.1);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(() => parseDuration('soon')).toThrow(/not a duration/);
  });
});

describe('parseSimSpec', () => {
  it('reads the contract example', () => {
    const s = parseSimSpec('fastboot:SIM0001?max-download=16M&speed=40M&partitions=boot:64M,system:2G');
    expect(s.serial).toBe('SIM0001');
    expect(s.maxDownloadSize).toBe(16 * 1024 ** 2);
    expect(s.link.bytesPerSecond).toBe(40 * 1024 ** 2);
    expect(s.partitions).toEqual([{ name: 'boot', size: 64 * 1024 ** 2 }, { name: 'system', size: 2 * 1024 ** 3 }]);
  });

  it('has the defaults of contract §1 and reads every key', () => {
    const d = parseSimSpec('fastboot:D1');
    expect(d.partitions.map((p) => p.name)).toEqual(['boot', 'system', 'vendor', 'userdata']);
    expect(d.maxDownloadSize).toBe(256 * 1024 ** 2);
    const s = parseSimSpec(
      'fastboot:K?logical=system&partitions=boot:1M,system:2M:ext4,super:8M&slots=1&latency=100us&reboot-delay=2s&locked=1&mode=fastbootd' +
        '&product=pixel&flash-speed=20M&fail-after=1M&disconnect-after=0x100&stall-after=3K&fail-command=flash:boot&stall-command=oem&repeat-faults=yes&udp-packet=1024',
    );
    expect(s.partitions[1]).toEqual({ name: 'system', size: 2 * 1024 ** 2, type: 'ext4', logical: true });
    expect(s.slots).toBe(true);
    expect(s.link.latencyMs).toBeCloseTo(0.1);
    expect(s.rebootDelayMs).toBe(2000);
    expect(s.locked).toBe(true);
    expect(s.mode).toBe('fastbootd');
    expect(s.product).toBe('pixel');
    expect(s.flashBytesPerSecond).toBe(20 * 1024 ** 2);
    expect(s.faults).toEqual({ failAfter: 1024 ** 2, disconnectAfter: 256, stallAfter: 3072, failCommand: 'flash:boot', stallCommand: 'oem', repeat: true });
    expect(s.udpMaxPacket).toBe(1024);
  });

  it.each([
    ['fastboot', /expected PROTOCOL:SERIAL/],
    ['dfu:X', /unknown protocol "dfu"/],
    ['fastboot:bad serial', /serial "bad serial"/],
    ['fastboot:X?colour=red', /unknown key "colour"/],
    ['fastboot:X?max-download=lots', /max-download: "lots" is not a size/],
    ['fastboot:X?max-download=1K', /between 4K and 4G-1/],
    ['fastboot:X?partitions=boot:0', /has size 0/],
    ['fastboot:X?partitions=boot:1M,boot:2M', /listed twice/],
    ['fastboot:X?logical=nosuch', /not in the partition list/],
    ['fastboot:X?slots=maybe', /not a yes\/no value/],
    ['fastboot:X?mode=recovery', /mode must be bootloader or fastbootd/],
  ])('rejects %s with a clear message', (spec, message) => {
    expect(() => parseSimSpec(spec)).toThrow(message);
  });
});

describe('parseSparse', () => {
  it('describes any well-formed image as ops that tile it, and rejects any truncation', async () => {
    const chunk = fc.oneof(
      fc.integer({ min: 1, max: 3 }).map((n) => ({ type: 'raw' as const, data: new Uint8Array(n * 16).fill(n) })),
      fc.record({ type: fc.constant('fill' as const), blocks: fc.integer({ min: 1, max: 50 }), value: fc.integer({ min: 0, max: 0xffffffff }) }),
      fc.record({ type: fc.constant('skip' as const), blocks: fc.integer({ min: 1, max: 50 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(chunk, { maxLength: 12 }), async (chunks) => {
        const img = sparseImage(16, chunks);
        const parsed = await parseSparse(bufferReader(img));
        let at = 0;
        for (const op of parsed.ops) {
          expect(op.offset).toBe(at);
          if (op.kind === 'raw') expect(img[op.at]).toBe(op.length / 16);
          at += op.length;
        }
        expect(at).toBe(parsed.size);
        if (img.length > 28) await expect(parseSparse(bufferReader(img.subarray(0, img.length - 1)))).rejects.toThrow(SparseError);
      }),
    );
  });
});

describe('ExtentSet', () => {
  it('behaves like a set of bytes under any sequence of adds and removes', () => {
    const op = fc.record({ add: fc.boolean(), start: fc.integer({ min: 0, max: 200 }), len: fc.integer({ min: 0, max: 60 }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), fc.integer({ min: 0, max: 250 }), fc.integer({ min: 1, max: 40 }), (ops, qs, ql) => {
        const set = new ExtentSet();
        const model = new Uint8Array(300);
        for (const o of ops) {
          if (o.add) set.add(o.start, o.start + o.len);
          else set.remove(o.start, o.start + o.len);
          model.fill(o.add ? 1 : 0, o.start, o.start + o.len);
        }
        const fromSet = new Uint8Array(300);
        for (const [s, e] of set.ranges) fromSet.fill(1, s, e);
        expect(fromSet).toEqual(model);
        for (let i = 1; i < set.ranges.length; i++) expect(set.ranges[i]![0]).toBeGreaterThan(set.ranges[i - 1]![1]);
        const hit = set.intersect(qs, qs + ql).reduce((n, [s, e]) => n + e - s, 0);
        expect(hit).toBe(model.subarray(qs, qs + ql).reduce((n, b) => n + b, 0));
      }),
    );
  });
});
