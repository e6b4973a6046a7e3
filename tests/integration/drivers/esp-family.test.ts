// The ESP family through the in-station simulator (DTR/RTS reach the chip): probe, flash by address and by
// partition label, MD5, refusals before writing, erase, unplug mid-write, pause and cancel at block boundaries.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Family, SerialCandidate } from '../../../src/contracts/family.js';
import type { DeviceLink } from '../../../src/contracts/links.js';
import type { SimFaults, SimInstance } from '../../../src/contracts/simulator.js';
import { createEspFamily } from '../../../src/drivers/esp/index.js';
import { openImage } from '../../../src/images/open.js';
import { espSimulatorFactory } from '../../../src/sim/esp/factory.js';
import { DEFAULT_PARTITIONS, espApp, partitionTable } from '../../helpers/esp-images.js';
import { recordingContext } from '../../helpers/esp-job.js';

const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');

describe('ESP family on the in-station simulator', () => {
  let dir = '';
  let sim: SimInstance | undefined;
  let link: DeviceLink | undefined;

  afterEach(async () => {
    await link?.close();
    await sim?.close();
    rmSync(dir, { recursive: true, force: true });
    sim = link = undefined;
  });

  async function board(params: Record<string, string> = {}, faults: SimFaults = {}, table = true) {
    dir = mkdtempSync(join(tmpdir(), 'fs-espfam-'));
    const store = join(dir, 'store');
    if (table) {
      // Pre-load a partition table, as a board flashed before would have.
      const flash = new Uint8Array(0x400000).fill(0xff);
      flash.set(partitionTable(DEFAULT_PARTITIONS), 0x8000);
      const { mkdirSync } = await import('node:fs');
      mkdirSync(store, { recursive: true });
      writeFileSync(join(store, 'flash.bin'), flash);
    }
    sim = await espSimulatorFactory.create('ESPF1', new Map(Object.entries(params)), faults, { storeDir: store });
    const family: Family<DeviceLink> = createEspFamily();
    const candidate = sim.candidate() as SerialCandidate;
    expect(family.match(candidate)).toBe(100);
    link = family.connect(candidate);
    return { family, candidate, link, store };
  }

  async function file(name: string, bytes: Uint8Array) {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return openImage(path, { hash: false });
  }

  it('probes chip, MAC, flash and the partition table, then flashes by label with progress in image bytes', async () => {
    const { family, candidate, link: l, store } = await board();
    const desc = await family.probe(l, candidate, AbortSignal.timeout(20_000));
    expect(desc.info.chip).toBe('ESP32');
    expect(desc.info.flash_size).toBe(0x400000);
    expect(desc.info.flash_id).toBe('0x1640ef');
    expect(String(desc.info.mac)).toMatch(/^24:0a:c4(:[0-9a-f]{2}){3}$/);
    expect(desc.partitions?.map((p) => p.name)).toEqual(['nvs', 'phy_init', 'factory']);
    const app = espApp(300_000, 0);
    const ctx = recordingContext();
    await family.run(l, { op: 'flash', target: { partition: 'factory' }, source: await file('app.bin', app) }, ctx);
    expect(ctx.movedTotal).toBe(app.length);
    expect(ctx.gateCalls).toBeGreaterThan(1);
    const flash = readFileSync(join(store, 'flash.bin'));
    expect(md5(flash.subarray(0x10000, 0x10000 + app.length))).toBe(md5(app));
    await family.run(l, { op: 'verify', target: { address: 0x10000 }, source: await file('app2.bin', app) }, recordingContext());
  });

  it('refuses an ESP32-S3 image on an ESP32, an address past the flash and an unaligned one, before writing', async () => {
    const { family, candidate, link: l, store } = await board();
    await family.probe(l, candidate, AbortSignal.timeout(20_000));
    const before = md5(readFileSync(join(store, 'flash.bin')));
    const s3 = await file('s3.bin', espApp(40_000, 9));
    await expect(family.run(l, { op: 'flash', target: { address: 0x10000 }, source: s3 }, recordingContext())).rejects.toMatchObject({ code: 'image_mismatch' });
    const big = await file('big.bin', espApp(0x20000, 0));
    await expect(family.run(l, { op: 'flash', target: { address: 0x3f0000 }, source: big }, recordingContext())).rejects.toMatchObject({ code: 'image_too_large' });
    const small = await file('small.bin', espApp(4096, 0));
    await expect(family.run(l, { op: 'flash', target: { address: 0x10100 }, source: small }, recordingContext())).rejects.toMatchObject({ code: 'bad_request' });
    await expect(family.run(l, { op: 'flash', target: { partition: 'ota_9' }, source: small }, recordingContext())).rejects.toMatchObject({ code: 'partition_not_found' });
    expect(md5(readFileSync(join(store, 'flash.bin')))).toBe(before);
  });

  it('erases a partition and reboots into the application', async () => {
    const { family, candidate, link: l, store } = await board();
    await family.probe(l, candidate, AbortSignal.timeout(20_000));
    await family.run(l, { op: 'flash', target: { address: 0x9000 }, source: await file('nvs.bin', new Uint8Array(0x6000).fill(0x11)) }, recordingContext());
    await family.run(l, { op: 'erase', target: { partition: 'nvs' } }, recordingContext());
    const flash = readFileSync(join(store, 'flash.bin'));
    expect(flash.subarray(0x9000, 0xf000).every((b) => b === 0xff)).toBe(true);
    expect(flash[0x8000]).toBe(0xaa);
    await family.run(l, { op: 'reboot', mode: 'hard' }, recordingContext());
  });

  it('reports an unplug mid-write as disconnected with the byte offset', async () => {
    const { family, candidate, link: l } = await board({}, { disconnectAfter: 60_000 });
    await family.probe(l, candidate, AbortSignal.timeout(20_000));
    const app = espApp(600_000, 0, 3);
    const err = await family.run(l, { op: 'flash', target: { address: 0x10000 }, source: await file('app.bin', app) }, recordingContext()).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'disconnected', transient: true });
    expect(String((err as Error).message)).toMatch(/byte offset 0x[0-9a-f]+/);
  });

  it('cancels at a block boundary and holds at the gate while paused', async () => {
    const { family, candidate, link: l } = await board();
    await family.probe(l, candidate, AbortSignal.timeout(20_000));
    const ctx = recordingContext();
    ctx.paused = true;
    const run = family.run(l, { op: 'flash', target: { address: 0x10000 }, source: await file('app.bin', espApp(400_000, 0)) }, ctx);
    await new Promise((r) => setTimeout(r, 300));
    expect(ctx.movedTotal).toBe(0);
    ctx.controller.abort();
    await expect(run).rejects.toMatchObject({ code: 'cancelled' });
  });

  it.each([
    ['esp8266', 'bridge', 'ESP8266', 0x0, 0],
    ['esp32s3', 'jtag', 'ESP32-S3', 0x10000, 9],
    ['esp32c3', 'bridge', 'ESP32-C3', 0x10000, 5],
  ] as const)('%s over %s: detects, flashes and checks the MD5', async (chip, usb, name, address, chipId) => {
    const { family, candidate, link: l, store } = await board({ chip, usb }, {}, false);
    const desc = await family.probe(l, candidate, AbortSignal.timeout(20_000));
    expect(desc.info.chip).toBe(name);
    expect(desc.partitions).toEqual([]);
    const app = espApp(100_000, chipId, 5);
    if (chip === 'esp8266') app[8] = 0; // an ESP8266 image has no extended header
    await family.run(l, { op: 'flash', target: { address }, source: await file('app.bin', app) }, recordingContext());
    expect(md5(readFileSync(join(store, 'flash.bin')).subarray(address, address + app.length))).toBe(md5(app));
  });

  it('a stalled board times out with the byte offset; the retried step resets it and succeeds', async () => {
    const { family, candidate, link: l, store } = await board({}, { stallAfter: 20_000 });
    await family.probe(l, candidate, AbortSignal.timeout(20_000));
    const app = espApp(120_000, 0, 9);
    const err = await family.run(l, { op: 'flash', target: { address: 0x10000 }, source: await file('app.bin', app) }, recordingContext()).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'timeout', transient: true });
    expect(String((err as Error).message)).toMatch(/byte offset 0x1[0-9a-f]{4}/);
    await family.run(l, { op: 'flash', target: { address: 0x10000 }, source: await file('app2.bin', app) }, recordingContext());
    expect(md5(readFileSync(join(store, 'flash.bin')).subarray(0x10000, 0x10000 + app.length))).toBe(md5(app));
  });

  it('a block the board refuses once (fail-after) is sent again and the write completes', async () => {
    const { family, candidate, link: l, store } = await board({}, { failAfter: 30_000 });
    await family.probe(l, candidate, AbortSignal.timeout(20_000));
    const app = espApp(200_000, 0, 11);
    await family.run(l, { op: 'flash', target: { address: 0x10000 }, source: await file('app.bin', app) }, recordingContext());
    expect(md5(readFileSync(join(store, 'flash.bin')).subarray(0x10000, 0x10000 + app.length))).toBe(md5(app));
  });

  it('fail-command=SPI_FLASH_MD5 fails the step after the write, as a device error', async () => {
    const { family, candidate, link: l } = await board({}, { failCommand: 'SPI_FLASH_MD5' });
    await family.probe(l, candidate, AbortSignal.timeout(20_000));
    const err = await family.run(l, { op: 'flash', target: { address: 0x10000 }, source: await file('app.bin', espApp(20_000, 0)) }, recordingContext()).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'device_error' });
  });
});
