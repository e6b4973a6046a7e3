// The STM32 family against the in-process AN3155 simulator: probe, flash (bin, HEX, S-record), verify, erase, go,
// protection, and bad input (bad HEX, beyond flash, RDP, garbage, silence, unplug, cancel).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Candidate, SerialCandidate } from '../../../src/contracts/family.js';
import { FlashError } from '../../../src/contracts/errors.js';
import type { DeviceLink, Transport } from '../../../src/contracts/links.js';
import type { SimFaults } from '../../../src/contracts/simulator.js';
import { createStm32Family } from '../../../src/drivers/stm32/index.js';
import { writeIntelHex } from '../../../src/images/intel-hex.js';
import { writeSrec } from '../../../src/images/srec.js';
import { parseChip, Stm32SimDevice } from '../../../src/sim/stm32/device.js';
import { stm32SimulatorFactory } from '../../../src/sim/stm32/factory.js';
import { SimSerialTransport } from '../../../src/sim/stm32/stream.js';
import { bytesSource } from '../../helpers/bytes-source.js';
import { testContext } from './job-context.js';

const BASE = 0x0800_0000;
const family = createStm32Family({ host: { timeoutMs: 500 } });

function pattern(n: number, seed = 1): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7 + (i >> 8)) & 0xff);
}

describe('STM32 family on the simulator', () => {
  let dir: string;
  let device: Stm32SimDevice;
  let link: DeviceLink;
  let started = false;
  let candidate: Candidate;

  function start(options: { chip?: string; flash?: number; faults?: SimFaults } = {}): void {
    const chip = parseChip(options.chip ?? 'f103');
    device = Stm32SimDevice.create({ chip, flashSize: options.flash ?? 64 * 1024, storeDir: join(dir, 'store'), baud: 2_000_000, faults: options.faults ?? {}, goResetMs: 50 });
    const c: SerialCandidate = {
      kind: 'serial', key: 'sim:T', transport: 'sim', path: 'sim:T', protocol: 'stm32',
      openStream: async (s) => new SimSerialTransport(device, s, 'simulated STM32 T'),
    };
    candidate = c;
    link = family.connect(c);
    started = true;
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fs-stm32-drv-'));
  });
  afterEach(async () => {
    if (started) {
      await link.close();
      device.close();
    }
    started = false;
    rmSync(dir, { recursive: true, force: true });
  });

  const probe = () => family.probe(link, candidate, new AbortController().signal);

  it('claims stm32 candidates, prefers ST-Link ports, and leaves other protocols alone', () => {
    expect(family.match({ kind: 'serial', key: 'a', transport: 'serial', path: 'a', protocol: 'stm32' })).toBe(100);
    expect(family.match({ kind: 'serial', key: 'a', transport: 'serial', path: 'a', protocol: 'esp' })).toBeUndefined();
    expect(family.match({ kind: 'serial', key: 'a', transport: 'serial', path: 'a', vendorId: 0x0483, productId: 0x374b })).toBe(60);
    expect(family.match({ kind: 'serial', key: 'a', transport: 'serial', path: 'a', vendorId: 0x10c4, productId: 0xea60 })).toBe(10);
    expect(family.match({ kind: 'network', key: 'n', transport: 'tcp', scheme: 'tcp', host: 'h' })).toBeUndefined();
  });

  it('probes the chip: name from the product id, flash size from the part itself', async () => {
    start();
    const d = await probe();
    expect(d.name).toBe('STM32F10x medium-density');
    expect(d.info).toMatchObject({ product_id: '0x410', bootloader: '2.2', flash_size: 64 * 1024, erase: 'standard' });
  });

  it('flashes a raw image at an address, reads it back, and counts every byte', async () => {
    start();
    await probe();
    const image = pattern(10_003);
    const ctx = testContext();
    await family.run(link, { op: 'flash', target: { address: BASE + 0x800 }, source: bytesSource(image) }, ctx);
    expect(Buffer.from(device.memory.flash.subarray(0x800, 0x800 + image.length))).toEqual(Buffer.from(image));
    expect(device.memory.flash.subarray(0, 0x800).every((b) => b === 0xff)).toBe(true);
    expect(ctx.bytesMoved).toBe(image.length);
    expect(ctx.stages).toContain('Verifying (reading back)');
    // The pages written were erased first, and only those (1 KiB pages 2..11).
    expect(device.memory.flash.subarray(0x800 + image.length, 0x3000).every((b) => b === 0xff)).toBe(true);
  });

  it('flashes Intel HEX and S-record files at their own addresses, leaving the gaps unwritten', async () => {
    start();
    await probe();
    device.memory.flash.fill(0x00, 0x1000, 0x1400); // what a gap page held before
    const a = pattern(300, 2);
    const b = pattern(77, 3);
    const hex = writeIntelHex([{ address: BASE + 0x10, bytes: a }, { address: BASE + 0x2002, bytes: b }]);
    const ctx = testContext();
    const source = bytesSource(new TextEncoder().encode(hex), 'app.hex');
    await family.run(link, { op: 'flash', target: { address: BASE }, source }, ctx);
    expect(Buffer.from(device.memory.flash.subarray(0x10, 0x10 + a.length))).toEqual(Buffer.from(a));
    expect(Buffer.from(device.memory.flash.subarray(0x2002, 0x2002 + b.length))).toEqual(Buffer.from(b));
    expect(device.memory.flash[0x2001]).toBe(0xff);
    expect(device.memory.flash.subarray(0x1000, 0x1400).every((x) => x === 0)).toBe(true); // page 4: not in the image, not erased
    expect(ctx.bytesMoved).toBe(source.dataBytes);

    const srec = writeSrec([{ address: BASE + 0x3000, bytes: a }]);
    await family.run(link, { op: 'flash', target: { address: BASE }, source: bytesSource(new TextEncoder().encode(srec), 'app.s37') }, testContext());
    expect(Buffer.from(device.memory.flash.subarray(0x3000, 0x3000 + a.length))).toEqual(Buffer.from(a));
  });

  it('refuses a HEX file with a bad checksum before erasing anything', async () => {
    start();
    await probe();
    device.memory.flash.fill(0x11, 0, 1024);
    const hex = writeIntelHex([{ address: BASE, bytes: pattern(64) }]).replace(/..\n:00000001FF/, '00\n:00000001FF');
    await expect(family.run(link, { op: 'flash', target: { address: BASE }, source: bytesSource(new TextEncoder().encode(hex), 'bad.hex') }, testContext())).rejects.toMatchObject({
      code: 'image_invalid',
      message: expect.stringMatching(/bad\.hex: line \d+: checksum/),
    });
    expect(device.memory.flash.subarray(0, 1024).every((x) => x === 0x11)).toBe(true);
  });

  it('refuses an image past the end of the flash, or outside it, before erasing anything', async () => {
    start();
    await probe();
    device.memory.flash.fill(0x22);
    await expect(family.run(link, { op: 'flash', target: { address: BASE + 60 * 1024 }, source: bytesSource(pattern(8192)) }, testContext())).rejects.toMatchObject({
      code: 'image_too_large',
      message: expect.stringMatching(/runs 4096 bytes past the end of the 64 KiB flash/),
    });
    await expect(family.run(link, { op: 'flash', target: { address: 0x2000_0000 }, source: bytesSource(pattern(16)) }, testContext())).rejects.toMatchObject({ code: 'target_unsupported' });
    await expect(family.run(link, { op: 'flash', target: { partition: 'boot' }, source: bytesSource(pattern(16)) }, testContext())).rejects.toMatchObject({ code: 'bad_request' });
    expect(device.memory.flash.every((x) => x === 0x22)).toBe(true);
  });

  it('says how to unprotect a read-protected chip, and that it erases; readout_unprotect then lets it flash', async () => {
    start();
    device.memory.setReadoutProtection(true);
    const d = await probe();
    expect(d.info.readout_protected).toBe(true);
    const err = await family.run(link, { op: 'flash', target: { address: BASE }, source: bytesSource(pattern(512)) }, testContext()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FlashError);
    expect(err).toMatchObject({ code: 'device_protected' });
    expect((err as Error).message).toMatch(/readout_unprotect/);
    expect((err as Error).message).toMatch(/ERASES THE WHOLE FLASH/);
    await family.run(link, { op: 'command', name: 'readout_unprotect' }, testContext());
    expect(device.memory.readoutProtected).toBe(false);
    const image = pattern(512);
    await family.run(link, { op: 'flash', target: { address: BASE }, source: bytesSource(image) }, testContext());
    expect(Buffer.from(device.memory.flash.subarray(0, 512))).toEqual(Buffer.from(image));
  });

  it('reports an unplug mid-write as disconnected with the byte offset', async () => {
    start({ faults: { disconnectAfter: 5000 } });
    await probe();
    const err = await family.run(link, { op: 'flash', target: { address: BASE }, source: bytesSource(pattern(20_000)) }, testContext()).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'disconnected', detail: 'byte offset 4864' });
    expect((err as Error).message).toMatch(/byte offset 4864 \(address 0x08001300\)/);
  });

  it('retries a block the line garbled, and gives up on one the chip keeps refusing', async () => {
    start();
    let writes = 0;
    const garbling: SerialCandidate = {
      kind: 'serial', key: 'sim:G', transport: 'sim', path: 'sim:G', protocol: 'stm32',
      openStream: async (s) => {
        const t = new SimSerialTransport(device, s, 'simulated STM32 G');
        const write = t.write.bind(t);
        t.write = async (data: Uint8Array) => {
          // The 6th long write (a block) loses a bit on the line: the checksum no longer matches.
          if (data.length > 200 && ++writes === 6) {
            const bad = data.slice();
            bad[100] = (bad[100] ?? 0) ^ 0x10;
            return write(bad);
          }
          return write(data);
        };
        return t;
      },
    };
    const l = family.connect(garbling);
    await family.probe(l, garbling, new AbortController().signal);
    const image = pattern(4096);
    const ctx = testContext();
    await family.run(l, { op: 'flash', target: { address: BASE }, source: bytesSource(image) }, ctx);
    expect(Buffer.from(device.memory.flash.subarray(0, 4096))).toEqual(Buffer.from(image));
    expect(ctx.logs.some((x) => /retrying \(2\/3\)/.test(x.message))).toBe(true);
    await l.close();
  });

  it('says a block was refused three times when the chip keeps refusing it', async () => {
    start({ faults: { failAfter: 1000 } });
    await probe();
    await expect(family.run(link, { op: 'flash', target: { address: BASE }, source: bytesSource(pattern(4096)) }, testContext())).rejects.toMatchObject({
      code: 'device_rejected',
      message: expect.stringMatching(/refused the block at 0x08000300 3 times/),
    });
  });

  it('cancels between blocks and pauses between blocks', async () => {
    start();
    await probe();
    const ctx = testContext();
    ctx.cancelAfter(4096);
    await expect(family.run(link, { op: 'flash', target: { address: BASE }, source: bytesSource(pattern(32_768)) }, ctx)).rejects.toMatchObject({ code: 'cancelled' });
    expect(ctx.bytesMoved).toBeLessThan(8192);
    const paused = testContext();
    paused.pause();
    const running = family.run(link, { op: 'flash', target: { address: BASE }, source: bytesSource(pattern(2048)) }, paused);
    await new Promise((r) => setTimeout(r, 100));
    expect(paused.bytesMoved).toBe(0);
    paused.resume();
    await running;
    expect(paused.bytesMoved).toBe(2048);
  });

  it('erases by sector on an F4 and whole, verifies, and starts the application', async () => {
    start({ chip: 'f4', flash: 1024 * 1024 });
    const d = await probe();
    expect(d.info).toMatchObject({ product_id: '0x413', erase: 'extended', flash_size: 1024 * 1024 });
    device.memory.flash.fill(0);
    const image = pattern(70 * 1024);
    await family.run(link, { op: 'flash', target: { address: BASE }, source: bytesSource(image) }, testContext());
    // Sectors 0-3 (16 KiB) and 4 (64 KiB) erased and written; sector 5 untouched.
    expect(device.memory.flash.subarray(image.length, 0x20000).every((x) => x === 0xff)).toBe(true);
    expect(device.memory.flash.subarray(0x20000, 0x20010).every((x) => x === 0)).toBe(true);
    await family.run(link, { op: 'verify', target: { address: BASE }, source: bytesSource(image) }, testContext());
    device.memory.flash[100] = 0;
    await expect(family.run(link, { op: 'verify', target: { address: BASE }, source: bytesSource(image) }, testContext())).rejects.toMatchObject({ code: 'verify_mismatch', detail: 'address 0x08000064' });
    await family.run(link, { op: 'erase', target: { address: BASE } }, testContext());
    expect(device.memory.flash.every((x) => x === 0xff)).toBe(true);
    const presence: boolean[] = [];
    device.onPresence((p) => presence.push(p));
    await family.run(link, { op: 'reboot', mode: 'go' }, testContext());
    await new Promise((r) => setTimeout(r, 150));
    expect(presence).toEqual([false, true]);
    // Synced again on the next step.
    await family.run(link, { op: 'verify', target: { address: BASE }, source: bytesSource(new Uint8Array(16).fill(0xff)) }, testContext());
  });

  it('checks command names and arguments', () => {
    expect(family.checkCommand?.('readout_unprotect', undefined)).toBeUndefined();
    expect(family.checkCommand?.('format', undefined)).toMatch(/takes the commands/);
    expect(family.checkCommand?.('enter_bootloader', { sequence: 'dtr,-dtr' })).toBeUndefined();
    expect(family.checkCommand?.('enter_bootloader', { sequence: 'boot0' })).toMatch(/write signals dtr or rts/);
  });

  it('the simulator factory makes an in-station device from a spec', async () => {
    const sim = await stm32SimulatorFactory.create('S1', new Map([['flash', '32K'], ['baud', '921600']]), {}, { storeDir: join(dir, 's1') });
    const c = sim.candidate();
    expect(c).toMatchObject({ kind: 'serial', transport: 'sim', protocol: 'stm32', serial: 'S1' });
    const l = family.connect(c);
    expect((await family.probe(l, c, new AbortController().signal)).info.flash_size).toBe(32 * 1024);
    await l.close();
    await sim.close();
    await expect(stm32SimulatorFactory.create('S2', new Map([['flash', '1500']]), {}, { storeDir: join(dir, 's2') })).rejects.toMatchObject({ code: 'bad_request' });
    await expect(stm32SimulatorFactory.create('S3', new Map([['colour', 'red']]), {}, { storeDir: join(dir, 's3') })).rejects.toThrow(/unknown key "colour"/);
  });
});

/** A port that is not an STM32: answers with `reply(byte)` (or nothing) to whatever it is sent. */
function fakePort(reply: (b: number) => number | undefined): Transport {
  const queue: number[] = [];
  let closed = false;
  return {
    kind: 'serial',
    get closed() {
      return closed;
    },
    async write(data) {
      for (const b of data) {
        const r = reply(b);
        if (r !== undefined) queue.push(r);
      }
    },
    async drain() {},
    async read(max, o) {
      const started = Date.now();
      while (queue.length === 0) {
        if (Date.now() - started > (o?.timeoutMs ?? 5000)) throw new FlashError('timeout', 'nothing', { transient: true });
        await new Promise((r) => setTimeout(r, 5));
      }
      return Uint8Array.from(queue.splice(0, max));
    },
    async close() {
      closed = true;
    },
  };
}

describe('STM32 probe on ports that are not an STM32', () => {
  const cases: Array<[string, (b: number) => number | undefined]> = [
    ['silence', () => undefined],
    ['garbage', () => 0x42],
    ['an echo', (b) => b],
  ];
  for (const [name, reply] of cases) {
    it(`gives up on ${name} within its bound`, async () => {
      const c: SerialCandidate = { kind: 'serial', key: 'x', transport: 'serial', path: 'x', openStream: async () => fakePort(reply) };
      const l = family.connect(c);
      const started = Date.now();
      await expect(family.probe(l, c, new AbortController().signal)).rejects.toBeInstanceOf(FlashError);
      expect(Date.now() - started).toBeLessThan(2000);
    });
  }
});
