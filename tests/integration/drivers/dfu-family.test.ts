// The DFU family against the in-process DFU/DfuSe simulator: probe, DfuSe writes by address and from DfuSe files (only
// the touched pages erased), plain DFU downloads with manifestation (tolerant, and a reset for one that is not), read-
// back, runtime-mode DETACH, mass erase, pause and cancel, and the bad input of issue 12: a suffix for another device
// (refused unless forced), a bad CRC, an element outside the layout, dfuERROR mid-transfer, an unplug during
// manifestation, a read-protected part.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { UsbCandidate } from '../../../src/contracts/family.js';
import type { Link } from '../../../src/contracts/links.js';
import type { SimFaults } from '../../../src/contracts/simulator.js';
import { buildDfuSuffix, buildDfuseFile, createDfuFamily } from '../../../src/drivers/dfu/index.js';
import { openImage } from '../../../src/images/open.js';
import { dfuSimulatorFactory, type DfuSimInstance } from '../../../src/sim/dfu/index.js';
import { recordingContext, type RecordingContext } from '../../helpers/esp-job.js';

const BASE = 0x08000000;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 7 + seed + (i >> 9)) & 0xff;
  return out;
}

async function rig(params: Record<string, string>, faults: SimFaults = {}, bufferLimit?: number) {
  const dir = mkdtempSync(join(tmpdir(), 'fs-dfufam-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const sim = (await dfuSimulatorFactory.create('DFU0001', new Map(Object.entries(params)), faults, { storeDir: join(dir, 'store') })) as DfuSimInstance;
  cleanups.push(() => sim.close());
  const family = createDfuFamily({ reenumerateMs: 3000, ...(bufferLimit !== undefined ? { bufferLimit } : {}) });
  const candidate = (): UsbCandidate => sim.candidate() as UsbCandidate;
  const link = family.connect(candidate());
  /** What the station does for a job: wait until the device is back on the bus, and hand out its new link. */
  const waitFor = async (timeoutMs: number): Promise<Link> => {
    const until = Date.now() + timeoutMs;
    while (!sim.device.present) {
      if (Date.now() > until) throw new Error('the device did not come back');
      await new Promise((r) => setTimeout(r, 5));
    }
    return family.connect(candidate());
  };
  const ctx = (): RecordingContext => {
    const c = recordingContext();
    c.waitForDevice = waitFor;
    return c;
  };
  const file = async (name: string, bytes: Uint8Array) => {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return openImage(path, { hash: false });
  };
  return { sim, dev: sim.device, family, link, candidate, ctx, file, dir };
}

describe('DFU family: DfuSe parts', () => {
  it('probes the layout as a partition, DfuSe, the transfer size and read protection', async () => {
    const { family, link, candidate } = await rig({ dfuse: '1', flash: '512K' });
    expect(family.match(candidate())).toBe(100);
    const d = await family.probe(link, candidate(), AbortSignal.timeout(5000));
    expect(d.partitions).toEqual([{ name: 'Internal_Flash', size: 512 * 1024 }]);
    expect(d.serial).toBe('DFU0001');
    expect(d.info).toMatchObject({ mode: 'dfu', dfuse: true, dfu_version: '1.1a', transfer_size: 2048, read_protected: false, can_upload: true });
    expect(String(d.info.layout)).toContain('/0x08000000/04*016Kg');
  });

  it('writes a raw image at an address, erasing only the pages it touches, and reads it back', async () => {
    const { family, link, dev, ctx, file } = await rig({ dfuse: '1', flash: '512K' });
    const keep = pattern(16 * 1024, 1);
    dev.flash.program(0, keep); // page 0 holds something that must survive
    dev.flash.program(0x20000, pattern(100, 2)); // a 128K sector the image does not touch
    const image = pattern(40_000, 5);
    const c = ctx();
    await family.run(link, { op: 'flash', target: { address: BASE + 0x4000 }, source: await file('app.bin', image) }, c);
    expect(c.movedTotal).toBe(image.length);
    expect(dev.flash.read(0x4000, image.length)).toEqual(image);
    expect(dev.flash.read(0, keep.length)).toEqual(keep);
    expect(dev.flash.read(0x20000, 100)).toEqual(pattern(100, 2));
    // Pages 0x4000, 0x8000, 0xC000 (16K each): three erases, no mass erase.
    expect(dev.log.filter((l) => l === 'DNLOAD 0 5').length).toBe(3 + 1);
    expect(dev.state).toBe(2);
    const v = ctx();
    await family.run(link, { op: 'verify', target: { address: BASE + 0x4000 }, source: await file('app2.bin', image) }, v);
    expect(v.stages.at(-1)).toMatch(/^Verifying .*: 100 %$/);
    expect(dev.state).toBe(2);
    // A byte changed on the part: the read-back names it.
    dev.flash.erase(0x4000 + 1234, 1);
    await expect(family.run(link, { op: 'verify', target: { address: BASE + 0x4000 }, source: await file('app3.bin', image) }, ctx()))
      .rejects.toMatchObject({ code: 'verify_mismatch', message: expect.stringContaining('0x080044d2') });
  });

  it('writes a DfuSe file (two elements), then leaves DFU mode when asked', async () => {
    const { family, link, dev, ctx, file } = await rig({ dfuse: '1', flash: '256K' });
    const a = pattern(3000, 1);
    const b = pattern(70_000, 2);
    const bytes = buildDfuseFile([{ alt: 0, name: 'ST...', elements: [{ address: BASE, data: a }, { address: BASE + 0x10000, data: b }] }], { idVendor: 0x0483, idProduct: 0xdf11 });
    await family.run(link, { op: 'flash', target: { whole: true }, source: await file('fw.dfu', bytes), options: { leave: true } }, ctx());
    expect(dev.flash.read(0, a.length)).toEqual(a);
    expect(dev.flash.read(0x10000, b.length)).toEqual(b);
    expect(dev.log).toContain('leave');
    await new Promise((r) => setTimeout(r, 50));
    expect(dev.mode).toBe('runtime');
  });

  it('refuses a suffix for another device unless forced', async () => {
    const { family, link, dev, ctx, file } = await rig({ dfuse: '1', flash: '128K' });
    const bytes = buildDfuseFile([{ alt: 0, name: null, elements: [{ address: BASE, data: pattern(1000, 3) }] }], { idVendor: 0x1234, idProduct: 0x5678 });
    await expect(family.run(link, { op: 'flash', target: { whole: true }, source: await file('other.dfu', bytes) }, ctx()))
      .rejects.toMatchObject({ code: 'image_mismatch', message: expect.stringContaining('1234:5678') });
    expect(dev.log.some((l) => l.startsWith('DNLOAD'))).toBe(false);
    await family.run(link, { op: 'flash', target: { whole: true }, source: await file('other2.dfu', bytes), options: { force: true } }, ctx());
    expect(dev.flash.read(0, 1000)).toEqual(pattern(1000, 3));
  });

  it('refuses a bad CRC and an element outside the layout before anything is erased', async () => {
    const { family, link, dev, ctx, file } = await rig({ dfuse: '1', flash: '128K' });
    const good = buildDfuseFile([{ alt: 0, name: null, elements: [{ address: BASE, data: pattern(1000, 3) }] }]);
    const bad = good.slice();
    bad[300] = bad[300]! ^ 0xff;
    await expect(family.run(link, { op: 'flash', target: { whole: true }, source: await file('bad.dfu', bad) }, ctx()))
      .rejects.toMatchObject({ code: 'image_invalid', message: expect.stringContaining('CRC') });
    const outside = buildDfuseFile([{ alt: 0, name: null, elements: [{ address: BASE + 0x1f000, data: pattern(0x2000, 4) }] }]);
    await expect(family.run(link, { op: 'flash', target: { whole: true }, source: await file('out.dfu', outside) }, ctx()))
      .rejects.toMatchObject({ code: 'image_too_large', message: expect.stringContaining('runs past') });
    await expect(family.run(link, { op: 'flash', target: { address: 0x20000000 }, source: await file('ram.bin', pattern(10, 1)) }, ctx()))
      .rejects.toMatchObject({ code: 'target_unsupported' });
    expect(dev.log.some((l) => l.startsWith('DNLOAD'))).toBe(false);
  });

  it('retries a block the device stalled (CLRSTATUS, SET_ADDRESS again) and finishes', async () => {
    const { family, link, dev, ctx, file } = await rig({ dfuse: '1', flash: '128K' }, { stallAfter: 5000 });
    const image = pattern(20_000, 6);
    const c = ctx();
    await family.run(link, { op: 'flash', target: { address: BASE }, source: await file('s.bin', image) }, c);
    expect(dev.flash.read(0, image.length)).toEqual(image);
    expect(c.logs.some((l) => l.startsWith('warn:') && l.includes('errSTALLEDPKT'))).toBe(true);
    expect(dev.log).toContain('CLRSTATUS');
  });

  it('fails with a clear error when the device keeps answering dfuERROR, and leaves it in dfuIDLE', async () => {
    const { family, link, dev, ctx, file } = await rig({ dfuse: '1', flash: '128K' }, { failAfter: 8192 });
    const c = ctx();
    const err = await family.run(link, { op: 'flash', target: { address: BASE }, source: await file('f.bin', pattern(20_000, 7)) }, c).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'device_error', transient: false, detail: 'dfu status errWRITE' });
    expect(String((err as Error).message)).toMatch(/at 0x08002000.*errWRITE.*tried 4 times/);
    expect(c.logs.filter((l) => l.startsWith('warn:')).length).toBe(3);
    expect(dev.state).toBe(2);
  });

  it('a read-protected part: probe says so, a write is refused naming the protection, unprotect clears it', async () => {
    const { family, link, candidate, dev, ctx, file } = await rig({ dfuse: '1', flash: '128K', rdp: '1' });
    const d = await family.probe(link, candidate(), AbortSignal.timeout(5000));
    expect(d.info.read_protected).toBe(true);
    const image = pattern(4000, 8);
    await expect(family.run(link, { op: 'flash', target: { address: BASE }, source: await file('p.bin', image) }, ctx()))
      .rejects.toMatchObject({ code: 'device_rejected', message: expect.stringContaining('read-protected') });
    await expect(family.run(link, { op: 'verify', target: { address: BASE }, source: await file('p1.bin', image) }, ctx()))
      .rejects.toMatchObject({ code: 'device_rejected', message: expect.stringContaining('read-protected') });
    expect(dev.state).toBe(2);
    await family.run(link, { op: 'command', name: 'unprotect' }, ctx());
    expect(dev.readProtected).toBe(false);
    const next = family.connect(candidate());
    await family.run(next, { op: 'flash', target: { address: BASE }, source: await file('p2.bin', image) }, ctx());
    expect(dev.flash.read(0, image.length)).toEqual(image);
  });

  it('mass-erases on an erase step of the whole device', async () => {
    const { family, link, dev, ctx } = await rig({ dfuse: '1', flash: '128K' });
    dev.flash.program(0x1000, pattern(100, 1));
    await family.run(link, { op: 'erase', target: { whole: true } }, ctx());
    expect(dev.flash.read(0x1000, 100).every((b) => b === 0xff)).toBe(true);
    expect(dev.log).toContain('DNLOAD 0 1');
  });

  it('cancel stops between blocks with ABORT (dfuIDLE); pause holds the transfer', async () => {
    const { family, link, dev, ctx, file } = await rig({ dfuse: '1', flash: '512K', speed: 'fs' });
    const c = ctx();
    c.paused = true;
    const run = family.run(link, { op: 'flash', target: { address: BASE }, source: await file('c.bin', pattern(200_000, 9)) }, c).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 100));
    expect(c.movedTotal).toBe(0);
    c.paused = false;
    while (c.movedTotal < 20_000) await new Promise((r) => setTimeout(r, 2));
    c.controller.abort();
    const err = await run;
    expect(err).toMatchObject({ code: 'cancelled', message: expect.stringMatching(/after \d+ of 200000 bytes; the device was left in dfuIDLE/) });
    expect(c.movedTotal).toBeLessThan(200_000);
    expect(dev.state).toBe(2);
  });
});

describe('DFU family: plain DFU 1.1 devices', () => {
  it('downloads a .dfu file to a named alt (manifestation-tolerant), then reads it back', async () => {
    const { family, link, candidate, dev, ctx, file } = await rig({ dfuse: '0', flash: '64K', alts: 'firmware:32K,data:32K' });
    const d = await family.probe(link, candidate(), AbortSignal.timeout(5000));
    expect(d.partitions?.map((p) => p.name)).toEqual(['firmware', 'data']);
    expect(d.info).toMatchObject({ dfuse: false, dfu_version: '1.10', transfer_size: 4096, manifestation_tolerant: true });
    const image = pattern(10_000, 4);
    const bytes = buildDfuSuffix(image, { idVendor: 1155, idProduct: 0xdf11 });
    const c = ctx();
    await family.run(link, { op: 'flash', target: { partition: 'data' }, source: await file('fw.dfu', bytes) }, c);
    expect(dev.flash.read(32 * 1024, image.length)).toEqual(image);
    expect(c.movedTotal).toBe(image.length);
    expect(dev.state).toBe(2);
    await family.run(link, { op: 'verify', target: { partition: 'data' }, source: await file('fw2.dfu', bytes) }, ctx());
    await expect(family.run(link, { op: 'flash', target: { partition: 'boot' }, source: await file('x.bin', image) }, ctx()))
      .rejects.toMatchObject({ code: 'partition_not_found' });
    await expect(family.run(link, { op: 'flash', target: { address: 0 }, source: await file('y.bin', image) }, ctx()))
      .rejects.toMatchObject({ code: 'bad_request' });
    await expect(family.run(link, { op: 'erase', target: { whole: true } }, ctx())).rejects.toMatchObject({ code: 'unsupported' });
  });

  it('resets a device that is not manifestation-tolerant, and verifies after it came back (DETACH from runtime)', async () => {
    const { family, link, dev, ctx, file } = await rig({ dfuse: '0', flash: '32K', tolerant: '0' });
    const image = pattern(9000, 2);
    const c = ctx();
    await family.run(link, { op: 'flash', target: { whole: true }, source: await file('a.bin', image) }, c);
    expect(dev.log).toContain('manifest wait-reset');
    expect(dev.flash.read(0, image.length)).toEqual(image);
    // The application runs now (runtime mode); the read-back detaches it into DFU mode again.
    const v = ctx();
    await family.run(link, { op: 'verify', target: { whole: true }, source: await file('b.bin', image) }, v);
    expect(v.logs.some((l) => l.includes('DFU DETACH'))).toBe(true);
    expect(dev.mode).toBe('dfu');
  });

  it('an unplug during manifestation fails the step with a clear error', async () => {
    const image = pattern(8192, 3);
    const { family, link, ctx, file } = await rig({ dfuse: '0', flash: '32K' }, { disconnectAfter: image.length });
    await expect(family.run(link, { op: 'flash', target: { whole: true }, source: await file('m.bin', image) }, ctx()))
      .rejects.toMatchObject({ code: 'disconnected', transient: true, message: expect.stringContaining('during manifestation') });
  });

  it('a device that is not manifestation-tolerant and resets itself after saying dfuMANIFEST: success', async () => {
    const image = pattern(8192, 5);
    const { family, link, dev, ctx, file } = await rig({ dfuse: '0', flash: '32K', tolerant: '0' }, { disconnectAfter: image.length });
    const c = ctx();
    await family.run(link, { op: 'flash', target: { whole: true }, source: await file('n.bin', image) }, c);
    expect(c.logs.some((l) => l.includes('reset itself after manifestation'))).toBe(true);
    expect(dev.flash.read(0, image.length)).toEqual(image);
  });

  it('restarts a refused download from byte 0, then gives up with a clear error', async () => {
    const { family, link, dev, ctx, file } = await rig({ dfuse: '0', flash: '64K' }, { failAfter: 20_000 });
    const c = ctx();
    await expect(family.run(link, { op: 'flash', target: { whole: true }, source: await file('r.bin', pattern(30_000, 1)) }, c))
      .rejects.toMatchObject({ code: 'device_error', message: expect.stringContaining('tried 4 times') });
    expect(c.logs.filter((l) => l.includes('from byte 0')).length).toBe(3);
    expect(dev.state).toBe(2);
  });

  it('streams a raw image larger than the buffer limit, and reads it back streaming', async () => {
    const { family, link, dev, ctx, file } = await rig({ dfuse: '0', flash: '128K', alts: 'rootfs:96K,env:32K' }, {}, 16 * 1024);
    const image = pattern(70_000, 8);
    const c = ctx();
    await family.run(link, { op: 'flash', target: { partition: 'rootfs' }, source: await file('rootfs.img', image) }, c);
    expect(c.movedTotal).toBe(image.length);
    expect(dev.flash.read(0, image.length)).toEqual(image);
    await family.run(link, { op: 'verify', target: { partition: 'rootfs' }, source: await file('rootfs2.img', image) }, ctx());
    await expect(family.run(link, { op: 'flash', target: { partition: 'rootfs' }, source: await file('big.dfu', image) }, ctx()))
      .rejects.toMatchObject({ code: 'image_too_large' });
    await expect(family.run(link, { op: 'flash', target: { address: 0 }, source: await file('r3.img', image) }, ctx()))
      .rejects.toMatchObject({ code: 'bad_request' });
  });

  it('a runtime-mode device is detached into DFU mode before a job writes it', async () => {
    const { family, link, candidate, dev, ctx, file } = await rig({ dfuse: '0', flash: '32K', runtime: '1' });
    expect(family.match({ ...candidate(), protocol: undefined })).toBe(20);
    const image = pattern(5000, 6);
    const c = ctx();
    const described: unknown[] = [];
    c.describe = (patch) => described.push(patch);
    await family.run(link, { op: 'flash', target: { whole: true }, source: await file('rt.bin', image) }, c);
    expect(dev.flash.read(0, image.length)).toEqual(image);
    expect(dev.log).toContain('reenumerate dfu');
    // The station learns the DFU-mode alt settings the runtime enumeration did not show.
    expect(described).toEqual([expect.objectContaining({ partitions: [{ name: 'firmware', size: 0 }], info: expect.objectContaining({ mode: 'dfu' }) })]);
  });
});
