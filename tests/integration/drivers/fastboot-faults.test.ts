// Faults over TCP: the device unplugged mid-download, FAIL on flash, and no answer. Each job ends within its
// timeout with a message saying what happened and at which byte; a job on another device is unaffected; the faulty
// device can be flashed again right after.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { FlashError } from '../../../src/core/errors.js';
import type { DeviceLink } from '../../../src/contracts/links.js';
import { createFastbootDriver } from './fastboot-driver.js';
import { openImage } from '../../../src/images/index.js';
import { createFastbootTcpLink } from '../../../src/transports/fastboot-tcp.js';
import { testContext } from './job-context.js';
import { readPartition, startTcpSim, tempDir, writeMixedImage, type RunningSim } from './sim-harness.js';

const MiB = 1024 * 1024;
const TIMEOUT_MS = 1500;
const driver = createFastbootDriver({ commandMs: TIMEOUT_MS, writeMs: TIMEOUT_MS, rebootWaitMs: 5000 });
const tmp = tempDir();
let imagePath = '';
let image: Buffer = Buffer.alloc(0);
beforeAll(() => {
  imagePath = join(tmp.path, 'fault.img');
  image = writeMixedImage(imagePath, 6 * MiB, 21);
});
afterAll(() => tmp.remove());

async function flash(link: DeviceLink): Promise<{ error?: FlashError; ms: number }> {
  const started = Date.now();
  try {
    await driver.run(link, { op: 'flash', partition: 'system', source: await openImage(imagePath) }, testContext());
    return { ms: Date.now() - started };
  } catch (e) {
    return { error: e as FlashError, ms: Date.now() - started };
  }
}

/** Flash again until the device answers (it may be "rebooting" for a moment after an unplug). */
async function flashAgain(sim: RunningSim, link: DeviceLink): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await flash(link);
    if (!r.error) break;
    if (Date.now() > deadline) throw r.error;
    await new Promise((res) => setTimeout(res, 200));
  }
  expect((await readPartition(sim, 'system', image.length)).equals(image)).toBe(true);
}

async function withFault(fault: string, check: (error: FlashError, ms: number) => void): Promise<void> {
  const bad = await startTcpSim(`fastboot:FAULTY?max-download=2M&partitions=system:16M&reboot-delay=200ms&${fault}`, tmp.path);
  const good = await startTcpSim('fastboot:HEALTHY?max-download=2M&partitions=system:16M&speed=20M', tmp.path);
  const badLink = createFastbootTcpLink('127.0.0.1', bad.face.port, { timeoutMs: TIMEOUT_MS, connectTimeoutMs: 1000 });
  const goodLink = createFastbootTcpLink('127.0.0.1', good.face.port, { timeoutMs: TIMEOUT_MS });
  try {
    const [faulty, healthy] = await Promise.all([flash(badLink), flash(goodLink)]);
    expect(healthy.error).toBeUndefined();
    expect((await readPartition(good, 'system', image.length)).equals(image)).toBe(true);
    expect(faulty.error).toBeInstanceOf(FlashError);
    check(faulty.error as FlashError, faulty.ms);
    await flashAgain(bad, badLink);
  } finally {
    await badLink.close();
    await goodLink.close();
    await bad.close();
    await good.close();
  }
}

describe('fastboot faults', () => {
  it('device unplugged mid-download: disconnected, naming the byte, then flashable again', async () => {
    await withFault('disconnect-after=1500K', (e, ms) => {
      expect(e.code).toBe('disconnected');
      expect(e.transient).toBe(true);
      expect(e.message).toMatch(/went away/);
      expect(e.message).toMatch(/\d+ of \d+ bytes of system, piece \d+ had been sent/);
      expect(ms).toBeLessThan(TIMEOUT_MS * 3);
    });
  });

  it('FAIL on flash: the device message and the piece, then flashable again', async () => {
    await withFault('fail-command=flash', (e, ms) => {
      expect(e.code).toBe('device_rejected');
      expect(e.message).toMatch(/refused "flash:system"/);
      expect(e.message).toMatch(/piece 1 of system/);
      expect(ms).toBeLessThan(TIMEOUT_MS * 3);
    });
  });

  it('no answer: a timeout within the deadline naming the byte, then flashable again', async () => {
    await withFault('stall-after=1M', (e, ms) => {
      expect(e.code).toBe('timeout');
      expect(e.message).toMatch(/bytes of system, piece 1/);
      expect(e.message).toMatch(/half-sent|half-received/);
      expect(ms).toBeLessThan(TIMEOUT_MS * 3 + 1000);
    });
  });
});
