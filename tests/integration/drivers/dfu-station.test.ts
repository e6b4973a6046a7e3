// The DFU family in a real station with `--sim dfu:…` devices (src/families.ts registers both): listed with their alt
// settings as partitions, flashed by address and by partition with read-back, a runtime-mode device detached into DFU
// mode by its probe, a suffix for another device refused unless a plan step forces it, and a cancel mid-download.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createStation, type Station } from '../../../src/core/station.js';
import { buildDfuSuffix } from '../../../src/drivers/dfu/index.js';
import type { ServerMessage } from '../../../src/protocol/messages.js';
import { createSimProvider } from '../../../src/sim/index.js';
import { until } from '../../helpers/until.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 13 + seed + (i >> 10)) & 0xff;
  return out;
}

async function station(specs: string[]): Promise<{ station: Station; dir: string; events: ServerMessage[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'fs-dfustation-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const s = await createStation({ dataDir: dir, providers: [createSimProvider(specs, { dataDir: dir })] });
  cleanups.push(() => s.close());
  const events: ServerMessage[] = [];
  s.subscribe((m) => events.push(m));
  return { station: s, dir, events };
}

async function finished(st: Station, jobId: string, ms = 20_000): Promise<string> {
  await until(() => ['completed', 'failed', 'cancelled'].includes(st.job(jobId)?.state ?? ''), ms, `job ${jobId} to end`);
  return st.job(jobId)!.state;
}

describe('DFU devices in a station', () => {
  it('lists a DfuSe sim and a plain DFU sim, and flashes each with read-back', async () => {
    const { station: st, dir } = await station(['dfu:DFUSE01?dfuse=1&flash=256K', 'dfu:PLAIN01?dfuse=0&flash=64K&alts=firmware:32K,data:32K']);
    await until(() => st.devices().filter((d) => d.state === 'idle').length === 2, 10_000, 'two idle DFU devices');
    const dfuse = st.devices().find((d) => d.id === 'DFUSE01')!;
    expect(dfuse.protocol).toBe('dfu');
    expect(dfuse.targets).toEqual(['partition', 'address', 'whole']);
    expect(dfuse.partitions).toEqual([{ name: 'Internal_Flash', size: 256 * 1024 }]);
    expect(dfuse.info).toMatchObject({ dfuse: true, transfer_size: 2048 });
    const plain = st.devices().find((d) => d.id === 'PLAIN01')!;
    expect(plain.partitions?.map((p) => p.name)).toEqual(['firmware', 'data']);

    const app = pattern(50_000, 1);
    const appPath = join(dir, 'app.bin');
    writeFileSync(appPath, app);
    const a = await st.startFlash({ deviceId: 'DFUSE01', address: '0x08004000', image: appPath, verify: true });
    const fw = pattern(12_000, 2);
    const fwPath = join(dir, 'fw.dfu');
    writeFileSync(fwPath, buildDfuSuffix(fw, { idVendor: 1155, idProduct: 0xdf11 }));
    const b = await st.startFlash({ deviceId: 'PLAIN01', partition: 'data', image: fwPath, verify: true });
    expect(await finished(st, a.jobId)).toBe('completed');
    expect(await finished(st, b.jobId)).toBe('completed');
    const flash1 = readFileSync(join(dir, 'sim', 'DFUSE01', 'flash.bin'));
    expect(new Uint8Array(flash1.subarray(0x4000, 0x4000 + app.length))).toEqual(app);
    const flash2 = readFileSync(join(dir, 'sim', 'PLAIN01', 'flash.bin'));
    expect(new Uint8Array(flash2.subarray(0x8000, 0x8000 + fw.length))).toEqual(fw);
    expect(st.job(a.jobId)!.bytesTransferred).toBe(app.length);
  });

  it('refuses a suffix for another device unless the plan step forces it', async () => {
    const { station: st, dir } = await station(['dfu:DFUSE02?dfuse=1&flash=128K']);
    await until(() => st.devices()[0]?.state === 'idle', 10_000, 'an idle DFU device');
    const path = join(dir, 'other.dfu');
    writeFileSync(path, buildDfuSuffix(pattern(3000, 3), { idVendor: 0x1d50, idProduct: 0x6017 }));
    const r = await st.startFlash({ deviceId: 'DFUSE02', address: '0x08000000', image: path });
    expect(await finished(st, r.jobId)).toBe('failed');
    expect(st.job(r.jobId)!.errorCode).toBe('image_mismatch');
    const forced = await st.startFlash({
      deviceId: 'DFUSE02',
      plan: { steps: [{ op: 'flash', address: '0x08000000', image: path, options: { force: true } }] } as never,
    });
    expect(await finished(st, forced.jobId)).toBe('completed');
  });

  it('a device that resets after manifestation is found again for its read-back (runtime, DETACH, DFU mode)', async () => {
    const { station: st, dir } = await station(['dfu:NOTTOL1?dfuse=0&flash=32K&tolerant=0']);
    await until(() => st.devices()[0]?.state === 'idle', 10_000, 'an idle DFU device');
    const fw = pattern(9000, 6);
    const path = join(dir, 'fw.bin');
    writeFileSync(path, fw);
    const r = await st.startFlash({ deviceId: 'NOTTOL1', partition: 'firmware', image: path, verify: true });
    expect(await finished(st, r.jobId)).toBe('completed');
    const flash = readFileSync(join(dir, 'sim', 'NOTTOL1', 'flash.bin'));
    expect(new Uint8Array(flash.subarray(0, fw.length))).toEqual(fw);
  });

  it('a runtime-mode sim is detached into DFU mode and comes back with its layout', async () => {
    const { station: st } = await station(['dfu:RUNTIME1?dfuse=1&flash=128K&runtime=1']);
    await until(() => st.devices()[0]?.info.mode === 'dfu' && st.devices()[0]?.state === 'idle', 10_000, 'the device in DFU mode');
    expect(st.devices()[0]!.partitions?.[0]?.name).toBe('Internal_Flash');
  });

  it('cancels a download between blocks; the job ends cancelled and the device takes the next job', async () => {
    const { station: st, dir } = await station(['dfu:DFUSE03?dfuse=1&flash=512K&speed=fs&program-rate=262144']);
    await until(() => st.devices()[0]?.state === 'idle', 10_000, 'an idle DFU device');
    const path = join(dir, 'big.bin');
    writeFileSync(path, pattern(400_000, 4));
    const r = await st.startFlash({ deviceId: 'DFUSE03', address: '0x08000000', image: path });
    await until(() => (st.job(r.jobId)?.bytesTransferred ?? 0) > 20_000, 10_000, 'bytes moving');
    st.cancel(r.jobId);
    expect(await finished(st, r.jobId)).toBe('cancelled');
    await until(() => st.devices()[0]?.state === 'idle', 5000, 'the device idle again');
    const small = join(dir, 'small.bin');
    writeFileSync(small, pattern(4000, 5));
    const again = await st.startFlash({ deviceId: 'DFUSE03', address: '0x08000000', image: small, verify: true });
    expect(await finished(st, again.jobId)).toBe('completed');
  });
});
