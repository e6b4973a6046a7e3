// DFU transfers on the simulated device: a block and its GETSTATUS polling, refusals as DfuStatusError, the retry
// policy (CLRSTATUS and again; never for a bad address or a protected part), page planning by the layout, and the
// end of a download (manifestation: tolerant, wait-for-reset).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SimFaults } from '../../../../src/contracts/simulator.js';
import { parseLayout } from '../../../../src/drivers/dfu/dfuse-layout.js';
import {
  DfuStatusError,
  downloadPlain,
  manifest,
  planPages,
  retrying,
  sendBlock,
  setAddress,
} from '../../../../src/drivers/dfu/download.js';
import { bytesPayload } from '../../../../src/drivers/dfu/image.js';
import { DfuSession } from '../../../../src/drivers/dfu/session.js';
import { createDfuSim, DfuSimDevice, dfuSimConfig } from '../../../../src/sim/dfu/index.js';
import { recordingContext } from '../../../helpers/esp-job.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function open(params: Record<string, string>, faults: SimFaults = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'fs-dfudl-'));
  dirs.push(dir);
  const sim = createDfuSim(new DfuSimDevice(dfuSimConfig('DL1', new Map(Object.entries(params))), dir, faults));
  const face = sim.face();
  await face.open();
  return { dev: sim.device, s: await DfuSession.open(face, 'dev') };
}

describe('sendBlock', () => {
  it('sends a block and polls to dfuDNLOAD-IDLE (GETSTATUS twice: dfuDNBUSY, then idle)', async () => {
    const { dev, s } = await open({ dfuse: '0', flash: '16K' });
    await sendBlock(s, 0, new Uint8Array(100).fill(7), 'block 0');
    expect(dev.state).toBe(5);
    expect(dev.flash.read(0, 100).every((b) => b === 7)).toBe(true);
  });

  it('turns a refusal into a DfuStatusError carrying the status', async () => {
    const { s } = await open({ dfuse: '1', flash: '128K' });
    const e = await setAddress(s, 0x20000000).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DfuStatusError);
    expect((e as DfuStatusError).status.status).toBe(1); // errTARGET
    expect((e as DfuStatusError).detail).toBe('dfu status errTARGET');
  });

  it('reads the status after a stalled DNLOAD (errSTALLEDPKT)', async () => {
    const { s } = await open({ dfuse: '0', flash: '16K' }, { stallAfter: 10 });
    const e = await sendBlock(s, 0, new Uint8Array(64), 'block 0').catch((x: unknown) => x);
    expect((e as DfuStatusError).status).toMatchObject({ status: 15, state: 10 });
  });
});

describe('retrying', () => {
  it('clears the error and tries again; gives up after N retries with a clear error', async () => {
    const { dev, s } = await open({ dfuse: '0', flash: '16K' }, { failCommand: 'dnload' });
    const ctx = recordingContext();
    let calls = 0;
    const e = await retrying(s, ctx, 'block 0', 2, async () => {
      calls++;
      await sendBlock(s, 0, new Uint8Array(64), 'block 0');
    }).catch((x: unknown) => x);
    expect(calls).toBe(3);
    expect(e).toMatchObject({ code: 'device_error', transient: false, message: expect.stringContaining('tried 3 times') });
    expect(ctx.logs.filter((l) => l.startsWith('warn:'))).toHaveLength(2);
    expect(dev.log.filter((l) => l === 'CLRSTATUS')).toHaveLength(2);
  });

  it('does not retry a bad address or a read-protected part', async () => {
    const { s } = await open({ dfuse: '1', flash: '128K', rdp: '1' });
    let calls = 0;
    const e = await retrying(s, recordingContext(), 'x', 3, () => {
      calls++;
      return setAddress(s, 0x08000000);
    }).catch((x: unknown) => x);
    expect(calls).toBe(1);
    expect(e).toMatchObject({ code: 'device_rejected', message: expect.stringContaining('read-protected') });
  });
});

describe('planPages', () => {
  const layout = parseLayout('@Internal Flash  /0x08000000/04*016Kg,01*064Kg,01*128Kg')!;

  it('lists each touched page once, in order', () => {
    const pages = planPages(layout, [
      { address: 0x08007ff0, data: new Uint8Array(0x20) }, // straddles pages 1 and 2
      { address: 0x08004000, data: new Uint8Array(10) }, // page 1 again
      { address: 0x08010000, data: new Uint8Array(0x10001) }, // the 64K sector and one byte into the 128K one
    ], 'layout');
    expect(pages).toEqual([0x08004000, 0x08008000, 0x08010000, 0x08020000]);
  });

  it('refuses an element past the memory', () => {
    expect(() => planPages(layout, [{ address: 0x0803ffff, data: new Uint8Array(2) }], 'the layout')).toThrow(/outside the writable memory/);
  });
});

describe('downloadPlain and manifest', () => {
  it('downloads in wTransferSize blocks and manifests on a tolerant device (back to dfuIDLE)', async () => {
    const { dev, s } = await open({ dfuse: '0', flash: '32K', 'transfer-size': '1024' });
    const ctx = recordingContext();
    const data = new Uint8Array(3000).map((_, i) => i & 0xff);
    await downloadPlain(s, bytesPayload(data), ctx, { done: 0, total: data.length });
    expect(dev.log.filter((l) => l.startsWith('DNLOAD'))).toEqual(['DNLOAD 0 1024', 'DNLOAD 1 1024', 'DNLOAD 2 952', 'DNLOAD 3 0']);
    expect(ctx.movedTotal).toBe(3000);
    expect(ctx.gateCalls).toBe(3);
    expect(dev.state).toBe(2);
    expect(dev.flash.read(0, 3000)).toEqual(data);
  });

  it('resets a device that waits for it after manifestation', async () => {
    const { dev, s } = await open({ dfuse: '0', flash: '32K', tolerant: '0' });
    await sendBlock(s, 0, new Uint8Array(10), 'block 0');
    await manifest(s, 1, recordingContext());
    expect(dev.log).toContain('manifest wait-reset');
    expect(dev.present).toBe(false);
    expect(s.stale).toBe(true);
  });

  it('refuses an empty image', async () => {
    const { s } = await open({ dfuse: '0', flash: '32K' });
    await expect(downloadPlain(s, bytesPayload(new Uint8Array(0)), recordingContext(), { done: 0, total: 0 })).rejects.toMatchObject({ code: 'image_invalid' });
  });
});
