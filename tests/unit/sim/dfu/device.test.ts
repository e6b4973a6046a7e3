// The DFU simulator's disconnect fault: once it fires, the device answers nothing more, even a request sent before
// the unplug timer ran (a fast host must not slip past it), and it comes back in DFU mode later.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DfuSimDevice, dfuSimConfig } from '../../../../src/sim/dfu/index.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function device(params: Record<string, string>, disconnectAfter: number): DfuSimDevice {
  const dir = mkdtempSync(join(tmpdir(), 'fs-dfusimdev-'));
  dirs.push(dir);
  return new DfuSimDevice(dfuSimConfig('D1', new Map(Object.entries(params))), dir, { disconnectAfter });
}

describe('DfuSimDevice disconnect-after', () => {
  it('drops off the bus at the first request after manifestation began', () => {
    const d = device({ dfuse: '0', flash: '16K' }, 100);
    expect(d.classOut(1, 0, new Uint8Array(100)).status).toBe('ok');
    expect(d.classIn(3, 0, 6)).toMatchObject({ status: 'ok' }); // executes the block: dfuDNBUSY
    expect(d.classIn(3, 0, 6)).toMatchObject({ status: 'ok' }); // dfuDNLOAD-IDLE
    expect(d.classOut(1, 1, new Uint8Array(0)).status).toBe('ok'); // zero-length: dfuMANIFEST-SYNC
    const st = d.classIn(3, 0, 6);
    expect(st.status === 'ok' && st.data?.[4]).toBe(7); // dfuMANIFEST, and the fault fires
    expect(d.present).toBe(true);
    expect(d.classIn(3, 0, 6).status).toBe('stall');
    expect(d.present).toBe(false);
    d.close();
  });

  it('drops off mid-transfer once more bytes than the limit arrived', () => {
    const d = device({ dfuse: '0', flash: '16K' }, 50);
    d.classOut(1, 0, new Uint8Array(64));
    d.classIn(3, 0, 6);
    expect(d.classIn(3, 0, 6).status).toBe('stall');
    expect(d.present).toBe(false);
    d.close();
  });
});
