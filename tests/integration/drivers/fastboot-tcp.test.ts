// The fastboot driver against the simulator over TCP loopback: describe, flash raw and sparse images larger than
// max-download-size (partition files compared byte for byte), slots, erase, size checks, cancel and device log lines.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { createFastbootDriver } from './fastboot-driver.js';
import { openImage } from '../../../src/images/index.js';
import { createFastbootTcpLink } from '../../../src/transports/fastboot-tcp.js';
import type { DeviceLink } from '../../../src/contracts/links.js';
import { testContext } from './job-context.js';
import { img2simg, readFile, readPartition, startTcpSim, tempDir, writeMixedImage, type RunningSim } from './sim-harness.js';

const MiB = 1024 * 1024;
const driver = createFastbootDriver({ commandMs: 5000, writeMs: 10_000, rebootWaitMs: 10_000 });
const tmp = tempDir();
afterAll(() => tmp.remove());

async function withSim<T>(spec: string, fn: (sim: RunningSim, link: DeviceLink) => Promise<T>): Promise<T> {
  const sim = await startTcpSim(spec, tmp.path);
  const link = createFastbootTcpLink('127.0.0.1', sim.face.port, { timeoutMs: 5000 });
  try {
    return await fn(sim, link);
  } finally {
    await link.close();
    await sim.close();
  }
}

describe('fastboot driver over TCP', () => {
  let rawPath = '';
  let sparsePath = '';
  let raw: Buffer = Buffer.alloc(0);
  beforeAll(() => {
    rawPath = join(tmp.path, 'mixed.img');
    sparsePath = join(tmp.path, 'mixed.simg');
    raw = writeMixedImage(rawPath, 6 * MiB + 4096, 7);
    img2simg(rawPath, sparsePath);
  });

  it('describes the device: product, serial, limits, partitions with sizes', async () => {
    await withSim('fastboot:DESC01?max-download=1M&partitions=boot:8M,system:32M&product=board1', async (_sim, link) => {
      const d = await driver.describe(link);
      expect(d.serial).toBe('DESC01');
      expect(d.name).toBe('board1');
      expect(d.info['max-download-size']).toBe(MiB);
      expect(d.partitions).toEqual(expect.arrayContaining([{ name: 'boot', size: 8 * MiB }, { name: 'system', size: 32 * MiB }]));
    });
  });

  it('flashes a raw image larger than max-download-size in sparse pieces; the partition equals the image', async () => {
    await withSim('fastboot:RAW001?max-download=1M&partitions=system:16M', async (sim, link) => {
      const ctx = testContext();
      const source = await openImage(rawPath);
      await driver.run(link, { op: 'flash', partition: 'system', source }, ctx);
      expect(sim.device.stats.downloads).toBeGreaterThanOrEqual(2);
      expect((await readPartition(sim, 'system', raw.length)).equals(raw)).toBe(true);
      // Only data bytes count towards progress: zero and repeated-word runs travel as FILL.
      expect(ctx.bytesMoved).toBeGreaterThan(0);
      expect(ctx.bytesMoved).toBeLessThan(raw.length);
      expect(sim.device.stats.bytesDownloaded).toBeLessThan(raw.length);
    });
  });

  it('flashes an img2simg sparse image in pieces; the partition equals the raw image', async () => {
    await withSim('fastboot:SPARSE1?max-download=1M&partitions=system:16M', async (sim, link) => {
      const source = await openImage(sparsePath);
      await driver.run(link, { op: 'flash', partition: 'system', source }, testContext());
      expect((await readPartition(sim, 'system', raw.length)).equals(raw)).toBe(true);
    });
  });

  it('refuses an image larger than the partition before sending anything', async () => {
    await withSim('fastboot:SMALL1?max-download=1M&partitions=boot:1M', async (sim, link) => {
      const source = await openImage(rawPath);
      await expect(driver.run(link, { op: 'flash', partition: 'boot', source }, testContext())).rejects.toMatchObject({
        code: 'image_too_large',
        message: expect.stringContaining('nothing was sent'),
      });
      expect(sim.device.stats.downloads).toBe(0);
    });
  });

  it('flashes slot a, b, both or the current one, and switches the active slot', async () => {
    await withSim('fastboot:SLOTS1?max-download=1M&slots=1&partitions=boot:8M', async (sim, link) => {
      const small = join(tmp.path, 'small.img');
      const img = writeMixedImage(small, 2 * MiB, 3);
      await driver.run(link, { op: 'flash', partition: 'boot', source: await openImage(small), slot: 'all' }, testContext());
      expect((await readPartition(sim, 'boot_a', img.length)).equals(img)).toBe(true);
      expect((await readPartition(sim, 'boot_b', img.length)).equals(img)).toBe(true);
      await driver.run(link, { op: 'erase', partition: 'boot_b' }, testContext());
      expect((await readPartition(sim, 'boot_b', img.length)).equals(img)).toBe(false);
      await driver.run(link, { op: 'set_active', slot: 'b' }, testContext());
      expect(sim.device.currentSlot).toBe('b');
      await driver.run(link, { op: 'flash', partition: 'boot', source: await openImage(small) }, testContext());
      expect((await readPartition(sim, 'boot_b', img.length)).equals(img)).toBe(true);
    });
  });

  it('erases a partition', async () => {
    await withSim('fastboot:ERASE1?max-download=1M&partitions=system:16M', async (sim, link) => {
      await driver.run(link, { op: 'flash', partition: 'system', source: await openImage(rawPath) }, testContext());
      await driver.run(link, { op: 'erase', partition: 'system' }, testContext());
      const after = await readPartition(sim, 'system', raw.length);
      expect(after.equals(raw)).toBe(false);
      expect(sim.device.commandLog.some((c) => c === 'erase:system')).toBe(true);
    });
  });

  it('checks require lines and getvar expectations before anything is written', async () => {
    await withSim('fastboot:REQ001?product=walleye&version-bootloader=mw8998-002.0069.00', async (_sim, link) => {
      await driver.run(link, { op: 'require', name: 'board', values: ['taimen', 'walleye'] }, testContext());
      await driver.run(link, { op: 'require', name: 'version-bootloader', values: ['mw8998-002.*'] }, testContext());
      await expect(driver.run(link, { op: 'require', name: 'board', values: ['marlin'] }, testContext())).rejects.toMatchObject({
        code: 'requirement_failed',
        message: expect.stringContaining('"walleye"'),
      });
      await expect(driver.run(link, { op: 'getvar', name: 'product', expect: 'marlin' }, testContext())).rejects.toMatchObject({ code: 'requirement_failed' });
    });
  });

  it('verifies a flashed partition by reading it back', async () => {
    await withSim('fastboot:VERIFY1?max-download=2M&partitions=system:16M&mode=fastbootd', async (_sim, link) => {
      const small = join(tmp.path, 'verify.img');
      writeMixedImage(small, 3 * MiB, 11);
      await driver.run(link, { op: 'flash', partition: 'system', source: await openImage(small) }, testContext());
      await driver.run(link, { op: 'verify', partition: 'system', source: await openImage(small) }, testContext());
      const other = join(tmp.path, 'other.img');
      writeMixedImage(other, 3 * MiB, 12);
      await expect(driver.run(link, { op: 'verify', partition: 'system', source: await openImage(other) }, testContext())).rejects.toMatchObject({
        code: 'verify_mismatch',
      });
    });
  });

  it('cancels between transfers and leaves the device answering', async () => {
    await withSim('fastboot:CANCEL1?max-download=4M&partitions=system:16M', async (sim, link) => {
      const ctx = testContext();
      ctx.cancelAfter(512 * 1024);
      await expect(driver.run(link, { op: 'flash', partition: 'system', source: await openImage(rawPath) }, ctx)).rejects.toMatchObject({ code: 'cancelled' });
      expect(ctx.logs.map((l) => l.message).join('\n')).toMatch(/finishing the download/);
      expect(sim.device.stats.flashes).toBe(0);
      const d = await driver.describe(link);
      expect(d.serial).toBe('CANCEL1');
    });
  });

  it('resizes a logical partition on userspace fastbootd before writing it', async () => {
    await withSim('fastboot:LOGIC1?max-download=1M&mode=fastbootd&partitions=super:64M,system:1M&logical=system', async (sim, link) => {
      const small = join(tmp.path, 'logical.img');
      const img = writeMixedImage(small, 3 * MiB, 31);
      await driver.run(link, { op: 'flash', partition: 'system', source: await openImage(small) }, testContext());
      const log = sim.device.commandLog;
      const resize = log.findIndex((c) => c === `resize-logical-partition:system:${img.length}`);
      expect(resize).toBeGreaterThanOrEqual(0);
      expect(log.findIndex((c) => c.startsWith('download:'))).toBeGreaterThan(resize);
      expect((await readPartition(sim, 'system', img.length)).equals(img)).toBe(true);
    });
  });

  it('refuses to flash a logical partition from the bootloader with the device message', async () => {
    await withSim('fastboot:LOGIC2?max-download=1M&partitions=super:64M,system:8M&logical=system', async (_sim, link) => {
      const small = join(tmp.path, 'logical2.img');
      writeMixedImage(small, 1 * MiB, 32);
      const err = await driver.run(link, { op: 'flash', partition: 'system', source: await openImage(small) }, testContext()).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'device_rejected' });
    });
  });

  it('pauses between transfers and resumes where it stopped', async () => {
    await withSim('fastboot:PAUSE1?max-download=4M&partitions=system:16M&speed=8M', async (sim, link) => {
      const ctx = testContext();
      const run = driver.run(link, { op: 'flash', partition: 'system', source: await openImage(rawPath) }, ctx);
      while (ctx.bytesMoved === 0) await new Promise((r) => setTimeout(r, 10));
      ctx.pause();
      await new Promise((r) => setTimeout(r, 400));
      const held = ctx.bytesMoved;
      await new Promise((r) => setTimeout(r, 400));
      expect(ctx.bytesMoved).toBe(held);
      ctx.resume();
      await run;
      expect((await readPartition(sim, 'system', raw.length)).equals(raw)).toBe(true);
    });
  });

  it('asks the bandwidth limiter for every byte it sends', async () => {
    await withSim('fastboot:THROT1?max-download=1M&partitions=system:16M', async (sim, link) => {
      let taken = 0;
      const ctx = { ...testContext(), throttle: { take: async (n: number) => void (taken += n) } };
      await driver.run(link, { op: 'flash', partition: 'system', source: await openImage(rawPath) }, ctx);
      expect(taken).toBe(sim.device.stats.bytesDownloaded);
      expect(taken).toBeGreaterThan(0);
    });
  });

  it('passes INFO and TEXT lines from the device to the job log', async () => {
    await withSim('fastboot:INFO01', async (_sim, link) => {
      const ctx = testContext();
      await driver.run(link, { op: 'oem', command: 'device-info' }, ctx);
      const lines = ctx.logs.map((l) => l.message);
      expect(lines).toEqual(expect.arrayContaining(['Serial number: INFO01', 'Device unlocked: true']));
      const text = testContext();
      await driver.run(link, { op: 'oem', command: 'text hello from the bootloader' }, text);
      expect(text.logs.map((l) => l.message)).toContain('hello from the bootloader');
      expect(text.logs.every((l) => l.level === 'info')).toBe(true);
    });
  });

  it('logs what each flash writes and how it went, so a finished job has a record', async () => {
    await withSim('fastboot:LOGW01?max-download=1M&partitions=system:16M', async (_sim, link) => {
      const ctx = testContext();
      await driver.run(link, { op: 'flash', partition: 'system', source: await openImage(rawPath) }, ctx);
      const lines = ctx.logs.map((l) => l.message);
      expect(lines[0]).toMatch(/^Writing mixed\.img \(raw, 6\.00 MiB\) to system: [\d.]+ MiB of data, as sparse pieces of at most 1\.00 MiB$/);
      expect(lines.at(-1)).toMatch(/^system written in \d+\.\d s \(\d+ pieces\)$/);
    });
  });

  it('reads back raw data with upload', async () => {
    await withSim('fastboot:UPL001', async (_sim, link) => {
      const { FastbootClient } = await import('../../../src/drivers/fastboot/index.js');
      const t = await link.open();
      const c = new FastbootClient(t, { timeoutMs: 5000 });
      await c.okay('oem log');
      const staged = await c.upload();
      expect(new TextDecoder().decode(staged)).toContain('oem log');
    });
  });

  void readFile;
});
