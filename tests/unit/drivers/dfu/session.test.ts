// DfuSession: alt settings named as partitions (DfuSe layouts by their name), lookups by name and address, opening in
// DFU mode (alt 0, dfuIDLE from wherever the device was left) and leaving runtime mode (DETACH, off the bus).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseLayout } from '../../../../src/drivers/dfu/dfuse-layout.js';
import { DfuSession, partitionNames } from '../../../../src/drivers/dfu/session.js';
import { createDfuSim, DfuSimDevice, dfuSimConfig } from '../../../../src/sim/dfu/index.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function sim(params: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'fs-dfusession-'));
  dirs.push(dir);
  return createDfuSim(new DfuSimDevice(dfuSimConfig('SESS1', new Map(Object.entries(params))), dir));
}

async function open(params: Record<string, string>) {
  const s = sim(params);
  const face = s.face();
  await face.open();
  return { sim: s, session: await DfuSession.open(face, 'test device') };
}

describe('partitionNames', () => {
  it('names a DfuSe alt by its layout, keeps plain names, and turns unusable or repeated names into altN', () => {
    const layout = parseLayout('@Internal Flash  /0x08000000/04*016Kg');
    const alts = [
      { alt: 0, name: '@Internal Flash  /0x08000000/04*016Kg', iInterface: 4 },
      { alt: 1, name: 'u-boot env', iInterface: 5 },
      { alt: 2, name: 'u-boot env', iInterface: 6 },
      { alt: 3, name: '   ', iInterface: 7 },
    ];
    expect(partitionNames(alts, [layout, undefined, undefined, undefined])).toEqual(['Internal_Flash', 'u-boot_env', 'alt2', 'alt3']);
  });
});

describe('DfuSession', () => {
  it('opens a DfuSe part: functional descriptor, alt 0, layout and lookups', async () => {
    const { session } = await open({ dfuse: '1', flash: '256K' });
    expect(session.dfuse).toBe(true);
    expect(session.runtime).toBe(false);
    expect(session.transferSize).toBe(2048);
    expect(session.alt).toBe(0);
    expect(session.names).toEqual(['Internal_Flash']);
    expect(session.altByName('Internal_Flash')?.alt).toBe(0);
    expect(session.altByName('Internal Flash')?.alt).toBe(0);
    expect(session.altByName('alt0')?.alt).toBe(0);
    expect(session.altByName('nope')).toBeUndefined();
    expect(session.layoutAt(0x08004000)?.segment).toMatchObject({ start: 0x08000000, end: 0x08010000, pageSize: 16 * 1024 });
    expect(session.layoutAt(0x08040000)).toBeUndefined();
    expect(session.layoutText(0)).toBe('Internal Flash: 0x08000000–0x08040000');
  });

  it('brings a device left in dfuERROR back to dfuIDLE when it opens it', async () => {
    const s = sim({ dfuse: '0', flash: '64K', alts: 'a:32K,b:32K' });
    s.device.state = 10;
    s.device.status = 3;
    const face = s.face();
    await face.open();
    const session = await DfuSession.open(face, undefined);
    expect(s.device.state).toBe(2);
    expect(session.names).toEqual(['a', 'b']);
    await session.selectAlt(1);
    expect(s.device.alt).toBe(1);
    await expect(session.selectAlt(5)).rejects.toMatchObject({ code: 'partition_not_found' });
  });

  it('detaches a runtime-mode device and resolves once it left the bus', async () => {
    const { sim: s, session } = await open({ dfuse: '0', flash: '32K', runtime: '1' });
    expect(session.runtime).toBe(true);
    await session.detach();
    expect(s.device.present).toBe(false);
    expect(session.stale).toBe(true);
    await new Promise((r) => setTimeout(r, 60));
    expect(s.device.mode).toBe('dfu');
  });

  it('resets a runtime device that will not detach by itself', async () => {
    const { sim: s, session } = await open({ dfuse: '0', flash: '32K', runtime: '1', 'will-detach': '0' });
    await session.detach();
    expect(s.device.log).toContain('reenumerate dfu');
  });
});
