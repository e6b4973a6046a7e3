// `--sim` devices inside the station: the provider attaches each simulator as a WebUSB-shaped device that our own USB
// transport and fastboot driver open; flashes land in DATA_DIR/sim/SERIAL; reboots and faults detach and re-attach.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import type { Candidate, JobContext } from '../../../src/contracts/family.js';
import type { DeviceLink } from '../../../src/contracts/links.js';
import { createFastbootFamily } from '../../../src/drivers/fastboot/index.js';
import type { FastbootTestStep as PlanStep } from '../drivers/fastboot-driver.js';
import { isFlashError } from '../../../src/core/errors.js';
import { createFastbootDriver } from '../drivers/fastboot-driver.js';
import { openImage } from '../../../src/images/index.js';
import { createSimProvider, type SimProvider } from '../../../src/sim/index.js';
import type { FastbootSimDevice } from '../../../src/sim/fastboot/device.js';

const MiB = 1024 * 1024;
const run = promisify(execFile);

/** An offered candidate once the fastboot family claimed it, with the driver the test talks through. */
interface AttachedDevice {
  device: { id: string; transport: string };
  link: DeviceLink;
  driver: typeof driver;
}

interface Sink {
  attached: AttachedDevice[];
  detached: string[];
  next(): Promise<AttachedDevice>;
}

const family = createFastbootFamily({ usb: { timeoutMs: 1500 } });

function makeSink(): Sink & { offer(c: Candidate): void; withdraw(key: string): void } {
  const waiters: Array<(d: AttachedDevice) => void> = [];
  const sink = {
    attached: [] as AttachedDevice[],
    detached: [] as string[],
    offer(c: Candidate) {
      if (family.match(c) === undefined) return;
      const d: AttachedDevice = { device: { id: c.serial ?? c.key, transport: c.transport }, link: family.connect(c), driver };
      sink.attached.push(d);
      waiters.shift()?.(d);
    },
    withdraw(key: string) {
      sink.detached.push(key.replace(/^sim:/, ''));
    },
    next: () => new Promise<AttachedDevice>((r) => waiters.push(r)),
  };
  return sink;
}

function makeContext(sink?: Sink): JobContext & { movedBytes: number; logs: string[] } {
  const ctx = {
    jobId: 'job1',
    deviceId: 'dev',
    signal: new AbortController().signal,
    gate: { pass: async () => undefined },
    throttle: { take: async () => undefined },
    movedBytes: 0,
    logs: [] as string[],
    moved(n: number) {
      ctx.movedBytes += n;
    },
    stage() {},
    log(_level: string, message: string) {
      ctx.logs.push(message);
    },
    waitForDevice: async () => {
      if (!sink) throw new Error('this test does not wait for devices');
      return (await sink.next()).link;
    },
  };
  return ctx;
}

const driver = createFastbootDriver({ commandMs: 3000, writeMs: 5000, rebootWaitMs: 5000 });
let dir: string;
let provider: SimProvider<FastbootSimDevice> | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sim-provider-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(async () => {
  await provider?.stop();
  provider = undefined;
});

async function start(spec: string): Promise<{ sink: ReturnType<typeof makeSink>; dev: AttachedDevice }> {
  provider = createSimProvider<FastbootSimDevice>([spec], { dataDir: dir });
  const sink = makeSink();
  await provider.start(sink);
  const dev = sink.attached[0];
  if (!dev) throw new Error('nothing attached');
  return { sink, dev };
}

describe('createSimProvider', () => {
  it('rejects a bad spec, naming what is wrong: shape and serials up front, family keys when it starts', async () => {
    expect(() => createSimProvider<FastbootSimDevice>(['fastboot:A', 'fastboot:A'], { dataDir: dir })).toThrow(/share the serial A/);
    expect(() => createSimProvider<FastbootSimDevice>(['nosuch:A'], { dataDir: dir })).toThrow(/unknown protocol "nosuch"/);
    const bad = createSimProvider<FastbootSimDevice>(['fastboot:X?partitions=boot'], { dataDir: dir });
    await expect(bad.start(makeSink())).rejects.toThrow(/partition "boot" must be NAME:SIZE/);
  });

  it('attaches a sim device that our driver describes and flashes into DATA_DIR/sim/SERIAL', async () => {
    const { dev } = await start('fastboot:PROV1?partitions=boot:4M,system:16M&max-download=1M&slots=1');
    expect(dev.device).toMatchObject({ id: 'PROV1', transport: 'sim' });
    const d = await dev.driver.describe(dev.link);
    expect(d.serial).toBe('PROV1');
    expect(d.partitions).toEqual(expect.arrayContaining([{ name: 'system_a', size: 16 * MiB }]));

    const raw = join(dir, 'p1.raw');
    const sparse = join(dir, 'p1.simg');
    const image = Buffer.alloc(6 * MiB);
    randomBytes(2 * MiB).copy(image, MiB);
    await writeFile(raw, image);
    await run('img2simg', [raw, sparse]);
    const ctx = makeContext();
    const step: PlanStep = { op: 'flash', partition: 'system', source: await openImage(sparse), slot: 'a' };
    await dev.driver.run(dev.link, step, ctx);
    const file = await readFile(join(dir, 'sim', 'PROV1', 'system_a.img'));
    expect(file.subarray(0, image.length).equals(image)).toBe(true);
    expect(ctx.movedBytes).toBe(2 * MiB);
    expect(provider?.devices.get('PROV1')?.violations).toEqual([]);
  });

  it('detaches on reboot and re-attaches under the same id once the device is back', async () => {
    const { sink, dev } = await start('fastboot:PROV2?partitions=boot:1M&reboot-delay=200ms');
    await dev.driver.run(dev.link, { op: 'reboot', target: 'bootloader' }, makeContext(sink));
    expect(sink.attached).toHaveLength(2);
    const again = sink.attached[1]!;
    expect(sink.detached).toEqual(['PROV2']);
    expect(again.device.id).toBe('PROV2');
    expect((await again.driver.describe(again.link)).serial).toBe('PROV2');
  });

  it('disconnect-after: the flash fails naming the byte, the device comes back and flashes fine', async () => {
    const { sink, dev } = await start('fastboot:PROV3?partitions=boot:8M&max-download=4M&disconnect-after=1M&reboot-delay=200ms');
    const path = join(dir, 'p3.img');
    const image = randomBytes(3 * MiB);
    await writeFile(path, image);
    const back = sink.next();
    const err = await dev.driver.run(dev.link, { op: 'flash', partition: 'boot', source: await openImage(path) }, makeContext()).catch((e: unknown) => e);
    expect(isFlashError(err) && err.code).toBe('disconnected');
    expect(String((err as Error).message)).toMatch(/10486\d\d of \d+ bytes/);
    const again = await back;
    expect(sink.detached).toEqual(['PROV3']);
    await again.driver.run(again.link, { op: 'flash', partition: 'boot', source: await openImage(path) }, makeContext());
    expect((await readFile(join(dir, 'sim', 'PROV3', 'boot.img'))).subarray(0, image.length).equals(image)).toBe(true);
  });

  it('stall-after: the flash times out, and after reopening the device answers again', async () => {
    const { dev } = await start('fastboot:PROV4?partitions=boot:8M&max-download=4M&stall-after=512K');
    const path = join(dir, 'p4.img');
    await writeFile(path, randomBytes(2 * MiB));
    const err = await dev.driver.run(dev.link, { op: 'flash', partition: 'boot', source: await openImage(path) }, makeContext()).catch((e: unknown) => e);
    expect(isFlashError(err) && err.code).toBe('timeout');
    await dev.link.close();
    await dev.driver.run(dev.link, { op: 'flash', partition: 'boot', source: await openImage(path) }, makeContext());
  });

  it('fail-command=flash: the flash fails with the device message, the next one works', async () => {
    const { dev } = await start('fastboot:PROV5?partitions=boot:2M&fail-command=flash');
    const path = join(dir, 'p5.img');
    await writeFile(path, randomBytes(64 * 1024));
    const step: PlanStep = { op: 'flash', partition: 'boot', source: await openImage(path) };
    await expect(dev.driver.run(dev.link, step, makeContext())).rejects.toThrow(/simulated failure/);
    await dev.driver.run(dev.link, { ...step, source: await openImage(path) }, makeContext());
  });
});
