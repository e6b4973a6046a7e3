// A host we did not write checks the DFU simulator: WebDFU (npm `dfu`, the Flipper Zero fork of webdfu) drives the
// simulator's WebUSB face, downloads a file and uploads it back, on a DfuSe part and on a plain DFU 1.1 device.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebDFU } from 'dfu';
import { createDfuSim, DfuSimDevice, dfuSimConfig } from '../../../src/sim/dfu/index.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function sim(params: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'dfu-webdfu-'));
  dirs.push(dir);
  const device = new DfuSimDevice(dfuSimConfig('WEBDFU1', new Map(Object.entries(params))), dir);
  return { instance: createDfuSim(device), dir };
}

const quiet = { info: () => undefined, warning: () => undefined, progress: () => undefined };

function done(events: { on(name: string, cb: (...a: unknown[]) => void): unknown }): Promise<unknown> {
  return new Promise((resolve, reject) => {
    events.on('end', resolve);
    events.on('error', reject);
  });
}

function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed + (i >> 8)) & 0xff;
  return out;
}

describe('WebDFU against the DFU simulator', () => {
  it('writes a DfuSe part (erase by the layout, SET_ADDRESS, blocks) and reads it back', async () => {
    const { instance, dir } = sim({ dfuse: '1', flash: '256K' });
    const face = instance.face();
    const dfu = new WebDFU(face as unknown as USBDevice, { forceInterfacesName: true }, quiet);
    await dfu.init();
    expect(dfu.interfaces.length).toBe(1);
    await dfu.connect(0);
    expect(dfu.properties?.DFUVersion).toBe(0x011a);
    expect(dfu.properties?.TransferSize).toBe(2048);
    expect(dfu.dfuseMemoryInfo?.segments.map((s) => s.sectorSize)).toEqual([16384, 65536, 131072]);
    const image = pattern(70_000, 7);
    dfu.dfuseStartAddress = 0x08000000;
    const w = dfu.write(2048, image.buffer as ArrayBuffer, false);
    await done(w.events);
    const flash = readFileSync(join(dir, 'flash.bin'));
    expect(Buffer.compare(flash.subarray(0, image.length), Buffer.from(image))).toBe(0);
    // The leave request made the part start its application: a fresh enumeration (runtime mode).
    await new Promise((r) => setTimeout(r, 60));
    expect(instance.device.mode).toBe('runtime');
    expect(instance.device.log).toContain('leave');
  });

  it('reads a DfuSe part back through UPLOAD', async () => {
    const { instance } = sim({ dfuse: '1', flash: '128K' });
    const image = pattern(5000, 3);
    instance.device.flash.program(0, image);
    const dfu = new WebDFU(instance.face() as unknown as USBDevice, { forceInterfacesName: true }, quiet);
    await dfu.init();
    await dfu.connect(0);
    dfu.dfuseStartAddress = 0x08000000;
    const r = dfu.read(2048, image.length);
    const blob = (await done(r.events)) as Blob;
    expect(new Uint8Array(await blob.arrayBuffer())).toEqual(image);
  });

  it('downloads to a plain DFU 1.1 device (manifestation tolerant) and uploads it back', async () => {
    const { instance } = sim({ dfuse: '0', flash: '64K', alts: 'firmware:32K,data:32K' });
    const dfu = new WebDFU(instance.face() as unknown as USBDevice, { forceInterfacesName: true }, quiet);
    await dfu.init();
    expect(dfu.interfaces.map((i) => i.name)).toEqual(['firmware', 'data']);
    // WebDFU parses any alt name as a DfuSe layout; plain DFU names must be hidden from it.
    for (const i of dfu.interfaces) i.name = undefined;
    await dfu.connect(1);
    const image = pattern(10_000, 9);
    const w = dfu.write(4096, image.buffer as ArrayBuffer, true);
    await done(w.events as never).catch((e: unknown) => {
      // WebDFU resets the device after manifestation; the simulator re-enumerates, which WebDFU may report.
      if (!String(e).includes('disconnected')) throw e;
    });
    expect(instance.device.flash.read(32 * 1024, image.length)).toEqual(image);
    await new Promise((r) => setTimeout(r, 60));
    // Reset after a download: the application runs (runtime mode); detach back and read the data alt.
    const face2 = instance.face();
    expect(instance.device.mode).toBe('runtime');
    const rt = new WebDFU(face2 as unknown as USBDevice, { forceInterfacesName: true }, quiet);
    await rt.init();
    for (const i of rt.interfaces) i.name = undefined;
    await rt.connect(0);
    await rt.detach();
    await new Promise((r) => setTimeout(r, 80));
    expect(instance.device.mode).toBe('dfu');
    const again = new WebDFU(instance.face() as unknown as USBDevice, { forceInterfacesName: true }, quiet);
    await again.init();
    for (const i of again.interfaces) i.name = undefined;
    await again.connect(1);
    const r = again.read(4096, image.length);
    const blob = (await done(r.events)) as Blob;
    expect(new Uint8Array(await blob.arrayBuffer())).toEqual(image);
  });
});
