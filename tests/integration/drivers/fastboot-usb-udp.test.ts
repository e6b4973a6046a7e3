// The fastboot driver through the simulator's in-process USB face (the station's --sim path: our WebUSB transport)
// and its UDP face: images larger than max-download-size land byte for byte; reboot-bootloader waits for the device.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { DeviceLink } from '../../../src/contracts/links.js';
import { createFastbootDriver } from './fastboot-driver.js';
import { openImage } from '../../../src/images/index.js';
import { FastbootSimDevice, SimUsbDevice, startUdpFace } from '../../../src/sim/fastboot/index.js';
import { createSimProvider } from '../../../src/sim/index.js';
import { createWebUsbLink } from '../../../src/transports/usb.js';
import { createFastbootUdpLink } from '../../../src/transports/fastboot-udp.js';
import { testContext } from './job-context.js';
import { recordingSink } from './plan-runner.js';
import { img2simg, readPartition, startTcpSim, tempDir, writeMixedImage } from './sim-harness.js';
import { FASTBOOT_USB } from '../../../src/transports/fastboot-usb-interface.js';

const MiB = 1024 * 1024;
const driver = createFastbootDriver({ commandMs: 5000, writeMs: 10_000, rebootWaitMs: 10_000 });
const tmp = tempDir();
let rawPath = '';
let sparsePath = '';
let raw: Buffer = Buffer.alloc(0);
beforeAll(() => {
  rawPath = join(tmp.path, 'usb.img');
  sparsePath = join(tmp.path, 'usb.simg');
  raw = writeMixedImage(rawPath, 5 * MiB, 5);
  img2simg(rawPath, sparsePath);
});
afterAll(() => tmp.remove());

describe('fastboot driver over the simulated USB face', () => {
  it('flashes raw and sparse images larger than max-download-size byte for byte', async () => {
    const provider = createSimProvider<FastbootSimDevice>(['fastboot:USB001?max-download=1M&partitions=system:16M,vendor:16M&speed=200M'], { dataDir: tmp.path });
    const sink = recordingSink();
    await provider.start(sink);
    try {
      const a = sink.latest('USB001');
      expect(a?.device.transport).toBe('sim');
      const link = a?.link as DeviceLink;
      const t = await link.open();
      expect(t.kind).toBe('sim');
      const d = await driver.describe(link);
      expect(d.serial).toBe('USB001');
      const ctx = testContext();
      await driver.run(link, { op: 'flash', partition: 'system', source: await openImage(rawPath) }, ctx);
      await driver.run(link, { op: 'flash', partition: 'vendor', source: await openImage(sparsePath) }, testContext());
      const dev = provider.devices.get('USB001');
      expect(dev?.violations).toEqual([]);
      expect(dev?.stats.downloads).toBeGreaterThanOrEqual(4);
      const storeRead = async (name: string): Promise<Buffer> => readPartition({ device: dev } as never, name, raw.length);
      expect((await storeRead('system')).equals(raw)).toBe(true);
      expect((await storeRead('vendor')).equals(raw)).toBe(true);
    } finally {
      await provider.stop();
    }
  });

  it('reboot-bootloader in a plan waits for the same device and goes on', async () => {
    const provider = createSimProvider<FastbootSimDevice>(['fastboot:USBRB1?max-download=1M&partitions=boot:8M&reboot-delay=300ms'], { dataDir: tmp.path });
    const sink = recordingSink();
    await provider.start(sink);
    try {
      const link = sink.latest('USBRB1')?.link as DeviceLink;
      const ctx = testContext(async (timeoutMs) => (await sink.next('USBRB1', timeoutMs)).link);
      await driver.run(link, { op: 'reboot', target: 'bootloader' }, ctx);
      expect(sink.detached).toContain('USBRB1');
      expect(ctx.stages.some((s) => /Waiting for the device/.test(s))).toBe(true);
      const back = sink.latest('USBRB1')?.link as DeviceLink;
      expect(back).toBeDefined();
      const small = join(tmp.path, 'boot.img');
      const img = writeMixedImage(small, 2 * MiB, 9);
      await driver.run(back, { op: 'flash', partition: 'boot', source: await openImage(small) }, testContext());
      const dev = provider.devices.get('USBRB1');
      expect(dev?.stats.reboots).toBe(1);
      expect((await readPartition({ device: dev } as never, 'boot', img.length)).equals(img)).toBe(true);
    } finally {
      await provider.stop();
    }
  });
});

describe('faults over the simulated USB face', () => {
  it('an unplug mid-download ends the job as disconnected naming the byte; the device is flashable once back', async () => {
    const provider = createSimProvider<FastbootSimDevice>(['fastboot:USBDC1?max-download=1M&partitions=system:16M&disconnect-after=1500K&reboot-delay=200ms'], { dataDir: tmp.path });
    const sink = recordingSink();
    await provider.start(sink);
    try {
      const fast = createFastbootDriver({ commandMs: 2000, writeMs: 2000 });
      const started = Date.now();
      const err = await fast
        .run(sink.latest('USBDC1')?.link as DeviceLink, { op: 'flash', partition: 'system', source: await openImage(rawPath) }, testContext())
        .catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(6000);
      expect(err).toMatchObject({ code: 'disconnected', transient: true });
      expect((err as Error).message).toMatch(/disconnected during a bulk OUT transfer after/);
      expect((err as Error).message).toMatch(/\d+ of \d+ bytes of system, piece \d+ had been sent/);
      const back = await sink.next('USBDC1', 5000);
      await fast.run(back.link, { op: 'flash', partition: 'system', source: await openImage(rawPath) }, testContext());
      const dev = provider.devices.get('USBDC1');
      expect((await readPartition({ device: dev } as never, 'system', raw.length)).equals(raw)).toBe(true);
    } finally {
      await provider.stop();
    }
  });

  it('a device that stops answering ends the job with a timeout within the deadline', async () => {
    const provider = createSimProvider<FastbootSimDevice>(['fastboot:USBST1?max-download=1M&partitions=system:16M&stall-after=512K'], { dataDir: tmp.path });
    const sink = recordingSink();
    await provider.start(sink);
    try {
      const fast = createFastbootDriver({ commandMs: 1000, writeMs: 1000 });
      // The station's sim links use the default 30 s deadline; this one is shortened to keep the test quick.
      const dev = provider.devices.get('USBST1');
      const link = createWebUsbLink(new SimUsbDevice(dev as FastbootSimDevice), FASTBOOT_USB, { kind: 'sim', timeoutMs: 1000 });
      const started = Date.now();
      const err = await fast.run(link, { op: 'flash', partition: 'system', source: await openImage(rawPath) }, testContext()).catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(err).toMatchObject({ code: 'timeout' });
      expect((err as Error).message).toMatch(/bytes of system, piece 1/);
    } finally {
      await provider.stop();
    }
  });
});

describe('fastboot driver over UDP', () => {
  it('flashes raw and sparse images larger than max-download-size byte for byte', async () => {
    const sim = await startTcpSim('fastboot:UDP001?max-download=1M&partitions=system:16M,vendor:16M', tmp.path);
    const face = await startUdpFace(sim.device, { port: 0 });
    const link = createFastbootUdpLink('127.0.0.1', face.port, { timeoutMs: 5000 });
    try {
      const small = join(tmp.path, 'udp.img');
      const img = writeMixedImage(small, 3 * MiB, 17);
      const simg = join(tmp.path, 'udp.simg');
      img2simg(small, simg);
      await driver.run(link, { op: 'flash', partition: 'system', source: await openImage(small) }, testContext());
      await driver.run(link, { op: 'flash', partition: 'vendor', source: await openImage(simg) }, testContext());
      expect(sim.device.stats.downloads).toBeGreaterThanOrEqual(2);
      expect((await readPartition(sim, 'system', img.length)).equals(img)).toBe(true);
      expect((await readPartition(sim, 'vendor', img.length)).equals(img)).toBe(true);
      const d = await driver.describe(link);
      expect(d.serial).toBe('UDP001');
    } finally {
      await link.close();
      await face.close();
      await sim.close();
    }
  });
});
