// DFU class requests: GETSTATUS parsing, names, device errors, bwPollTimeout waits, and DfuRequests against the DFU
// simulator's state machine (which stalls a GETSTATUS sent before the poll timeout is over).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FlashError } from '../../../../src/contracts/errors.js';
import {
  DfuRequests,
  parseStatus,
  pollWait,
  STATE,
  stateName,
  statusError,
  statusName,
} from '../../../../src/drivers/dfu/protocol.js';
import { dfuSimConfig } from '../../../../src/sim/dfu/config.js';
import { DfuSimDevice } from '../../../../src/sim/dfu/device.js';
import { DfuUsbFace } from '../../../../src/sim/dfu/usb-face.js';
import { isStall, UsbControl } from '../../../../src/transports/usb-control.js';

async function rejection(p: Promise<unknown>): Promise<FlashError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(FlashError);
    return e as FlashError;
  }
  throw new Error('expected a rejection');
}

describe('GETSTATUS and names', () => {
  it('parses status, the 24-bit little-endian bwPollTimeout and state', () => {
    expect(parseStatus(Uint8Array.of(0x03, 0x10, 0x27, 0x01, 0x0a, 0x00))).toEqual({ status: 3, pollTimeout: 0x012710, state: 10 });
    expect(parseStatus(Uint8Array.of(0, 0xff, 0xff, 0xff, 2, 0, 99))).toEqual({ status: 0, pollTimeout: 0xffffff, state: 2 });
  });

  it('refuses a short answer as a transient protocol error', () => {
    const e = (() => {
      try {
        parseStatus(Uint8Array.of(0, 0, 0, 0, 2));
      } catch (err) {
        return err as FlashError;
      }
      throw new Error('accepted 5 bytes');
    })();
    expect(e.code).toBe('protocol_error');
    expect(e.transient).toBe(true);
    expect(e.message).toContain('5 bytes instead of 6');
  });

  it('names states and statuses, and numbers unknown ones', () => {
    expect([stateName(STATE.dfuIDLE), stateName(STATE.dnloadIdle), stateName(STATE.dfuError), stateName(11)]).toEqual([
      'dfuIDLE',
      'dfuDNLOAD-IDLE',
      'dfuERROR',
      'state 11',
    ]);
    expect([statusName(0), statusName(3), statusName(8), statusName(15), statusName(16)]).toEqual(['OK', 'errWRITE', 'errADDRESS', 'errSTALLEDPKT', 'status 16']);
  });

  it('makes errVENDOR a read-protection refusal and other statuses a retryable device error', () => {
    const rdp = statusError('dev', { status: 11, pollTimeout: 0, state: 10 }, 'the download');
    expect(rdp.code).toBe('device_rejected');
    expect(rdp.transient).toBe(false);
    expect(rdp.message).toMatch(/read-protected \(errVENDOR\).*unprotect/);
    expect(rdp.detail).toBe('dfu status errVENDOR');
    const write = statusError('dev', { status: 3, pollTimeout: 0, state: 10 }, 'block 7');
    expect(write.code).toBe('device_error');
    expect(write.transient).toBe(true);
    expect(write.message).toBe('dev failed block 7 (errWRITE, state dfuERROR)');
    expect(write.detail).toBe('dfu status errWRITE');
  });
});

describe('pollWait', () => {
  it('never returns before the poll timeout', async () => {
    for (const ms of [0.5, 3, 12]) {
      const t0 = performance.now();
      await pollWait(ms);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(ms);
    }
  });

  it('is cancellable, and cancelled by an already aborted signal', async () => {
    const a = new AbortController();
    const waiting = pollWait(60_000, a.signal);
    a.abort();
    expect((await rejection(waiting)).code).toBe('cancelled');
    expect((await rejection(pollWait(1, a.signal))).code).toBe('cancelled');
  });
});

describe('DfuRequests against the DFU simulator', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  async function sim(params: Record<string, string>): Promise<{ device: DfuSimDevice; req: DfuRequests }> {
    const dir = mkdtempSync(join(tmpdir(), 'fs-dfu-proto-'));
    const device = new DfuSimDevice(dfuSimConfig('P1', new Map(Object.entries(params))), dir);
    cleanups.push(() => {
      device.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const face = new DfuUsbFace(device);
    await face.open();
    await face.claimInterface(0);
    return { device, req: new DfuRequests(new UsbControl(face, { label: 'sim' }), 0) };
  }

  const block = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

  it('downloads blocks waiting out bwPollTimeout (the simulator stalls an early GETSTATUS), then uploads them back', async () => {
    const { device, req } = await sim({ dfuse: '0', flash: '64K', 'program-rate': String(1024 * 1024) });
    expect(await req.getState()).toBe(STATE.dfuIDLE);
    const data = [block(4096, 1), block(4096, 2), block(1000, 3)];
    for (const [i, b] of data.entries()) {
      await req.dnload(i, b);
      const st = await req.pollBlock();
      expect([st.state, st.status]).toEqual([STATE.dnloadIdle, 0]);
    }
    expect(device.log.filter((l) => l.startsWith('stall'))).toEqual([]);
    await req.dnload(3, new Uint8Array(0));
    const end = await req.pollWhile((s) => s === STATE.manifestSync || s === STATE.manifest);
    expect(end.state).toBe(STATE.dfuIDLE);
    const back: number[] = [];
    for (let i = 0; back.length < 9192; i++) back.push(...(await req.upload(i, 4096)).subarray(0, 9192 - back.length));
    expect(Buffer.from(back).equals(Buffer.concat(data))).toBe(true);
    expect((await req.toIdle()).state).toBe(STATE.dfuIDLE);
  });

  it('reports a device error in the status instead of throwing, and toIdle clears it', async () => {
    const { device, req } = await sim({ dfuse: '0', flash: '8K' });
    await req.dnload(0, block(4096, 1));
    expect((await req.pollBlock()).state).toBe(STATE.dnloadIdle);
    await req.dnload(1, block(4096, 2));
    await req.dnload(2, block(64, 3)).catch(() => undefined); // not yet polled: the simulator stalls it
    const st = await req.getStatus();
    expect(st.state).toBe(STATE.dfuError);
    expect(statusName(st.status)).toBe('errSTALLEDPKT');
    const idle = await req.toIdle();
    expect(idle.state).toBe(STATE.dfuIDLE);
    expect(device.log).toContain('CLRSTATUS');
    await req.dnload(0, block(4096, 1));
    await req.pollBlock();
    await req.dnload(1, block(4096, 2));
    await req.pollBlock();
    await req.dnload(2, block(64, 3));
    const full = await req.pollBlock();
    expect(statusError('sim', full, 'block 2').message).toBe('sim failed block 2 (errADDRESS, state dfuERROR)');
    expect((await req.toIdle()).state).toBe(STATE.dfuIDLE);
  });

  it('turns a refused request into a stall error, after which GETSTATUS says dfuERROR', async () => {
    const { req } = await sim({ dfuse: '0', flash: '8K' });
    const e = await req.dnload(0, new Uint8Array(0)).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isStall(e)).toBe(true);
    expect((await req.getStatus()).state).toBe(STATE.dfuError);
  });

  it('cancels a poll mid-block, and toIdle then leaves the device in dfuIDLE', async () => {
    const { req } = await sim({ dfuse: '0', flash: '64K', 'program-rate': '4096' });
    const a = new AbortController();
    await req.dnload(0, block(4096, 1), a.signal);
    const polling = req.pollBlock(a.signal);
    setTimeout(() => a.abort(), 20);
    expect((await rejection(polling)).code).toBe('cancelled');
    expect((await req.toIdle()).state).toBe(STATE.dfuIDLE);
  });

  it('gives up with a clear error on a device that never reaches dfuIDLE (runtime mode)', async () => {
    const { req } = await sim({ dfuse: '0', flash: '8K', runtime: '1', 'will-detach': '0' });
    const e = await rejection(req.toIdle());
    expect(e.code).toBe('device_error');
    expect(e.message).toBe('sim stays in appIDLE (OK) — replug it and retry');
  });
});
