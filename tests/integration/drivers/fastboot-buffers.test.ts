// A flash over TCP and over (simulated) USB reads its data into a few reused buffers: each slice's buffer goes back to
// the pool when the transport has sent it, so the buffers created stay bounded however many MiB are written, the data
// is not copied on its way to the socket, and the partition still equals the image byte for byte.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { createFastbootDriver } from './fastboot-driver.js';
import { openImage } from '../../../src/images/index.js';
import { copyMeter, poolMeter } from '../../../src/images/buffer-pool.js';
import { createFastbootTcpLink } from '../../../src/transports/fastboot-tcp.js';
import { createWebUsbLink } from '../../../src/transports/usb.js';
import { FASTBOOT_USB } from '../../../src/transports/fastboot-usb-interface.js';
import { FastbootSimDevice, SimUsbDevice, parseSimSpec } from '../../../src/sim/fastboot/index.js';
import { testContext } from './job-context.js';
import { img2simg, readPartition, startTcpSim, tempDir, writeMixedImage } from './sim-harness.js';

const MiB = 1024 * 1024;
const driver = createFastbootDriver({ commandMs: 5000, writeMs: 10_000, rebootWaitMs: 10_000 });
const tmp = tempDir();
afterAll(() => tmp.remove());

describe('fastboot flash read buffers', () => {
  let rawPath = '';
  let sparsePath = '';
  let raw: Buffer = Buffer.alloc(0);
  beforeAll(() => {
    rawPath = join(tmp.path, 'big.img');
    sparsePath = join(tmp.path, 'big.simg');
    raw = writeMixedImage(rawPath, 40 * MiB, 11);
    img2simg(rawPath, sparsePath);
  });
  beforeEach(() => {
    poolMeter.reset();
    copyMeter.reset();
  });

  for (const kind of ['sparse', 'raw'] as const) {
    it(`TCP, ${kind} image: buffers are given back per write and reused; no data copies`, async () => {
      const sim = await startTcpSim('fastboot:POOL01?max-download=8M&partitions=system:48M', tmp.path);
      const link = createFastbootTcpLink('127.0.0.1', sim.face.port, { timeoutMs: 5000 });
      try {
        const source = await openImage(kind === 'sparse' ? sparsePath : rawPath, { hash: false });
        await driver.run(link, { op: 'flash', partition: 'system', source }, testContext());
        expect(sim.device.stats.downloads).toBeGreaterThanOrEqual(3);
        expect((await readPartition(sim, 'system', raw.length)).equals(raw)).toBe(true);
        // The reads ahead and the slice being sent (the driver's 4 MiB writes), plus staging blocks of 64 KiB: a
        // handful of buffers for 40 MiB, where fresh ones would be one per slice.
        expect(poolMeter.allocations).toBeLessThanOrEqual(8);
        expect(poolMeter.bytes).toBeLessThanOrEqual(4 * 4 * MiB + 4 * 65536);
        // Only a piece's sub-16 KiB tails share a write with its headers (a copy of at most 16 KiB per piece).
        expect(copyMeter.bytes).toBeLessThan(sim.device.stats.downloads * 16384);
      } finally {
        await link.close();
        await sim.close();
      }
    });
  }

  it('USB (simulated, 4 transfers in flight): buffers stay bounded and the partition equals the image', async () => {
    const dev = await FastbootSimDevice.create({ ...parseSimSpec('fastboot:POOL02?max-download=8M&partitions=system:48M'), storeDir: join(tmp.path, 'usb') });
    const link = createWebUsbLink(new SimUsbDevice(dev), FASTBOOT_USB, { kind: 'sim', transferSize: 256 * 1024, inFlight: 4 });
    try {
      const source = await openImage(sparsePath, { hash: false });
      await driver.run(link, { op: 'flash', partition: 'system', source }, testContext());
      const part = await readPartition({ device: dev } as Parameters<typeof readPartition>[0], 'system', raw.length);
      expect(part.equals(raw)).toBe(true);
      expect(poolMeter.allocations).toBeLessThanOrEqual(10);
    } finally {
      await link.close();
      await dev.close();
    }
  });
});
