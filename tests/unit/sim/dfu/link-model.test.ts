// The DFU simulator's EP0 model: transfer times from the link's framing, waits that never end early, and a pacer that
// puts back-to-back transfers on one virtual clock (short transfers add up to the link's time, not to event-loop turns).
import { describe, expect, it } from 'vitest';
import { ControlPacer, LINK_MODELS, controlTransferMicros, sleepUntil } from '../../../../src/sim/dfu/link-model.js';

describe('controlTransferMicros', () => {
  it('counts setup and status transactions, one per 64-byte packet of data, and the turnaround', () => {
    const fs = LINK_MODELS.fs;
    // No data stage: setup + status, each with framing, plus the 8-byte setup packet.
    expect(controlTransferMicros(fs, 0)).toBeCloseTo(((2 * 16 + 8) * 8 * 1e6) / 12e6 + 100, 6);
    // 2048 bytes: 32 data packets.
    expect(controlTransferMicros(fs, 2048)).toBeCloseTo((((2 + 32) * 16 + 8 + 2048) * 8 * 1e6) / 12e6 + 100, 6);
    expect(controlTransferMicros(fs, 65)).toBeGreaterThan(controlTransferMicros(fs, 64));
    // High speed is 40× the bit rate: a 4 KiB block takes tens of microseconds, not milliseconds.
    const hs = controlTransferMicros(LINK_MODELS.hs, 4096);
    expect(hs).toBeGreaterThan(25);
    expect(hs).toBeLessThan(120);
  });
});

describe('sleepUntil', () => {
  it('never returns before the time asked, for waits shorter and longer than a turn', async () => {
    for (const ms of [0, 0.03, 0.15, 0.4, 2.5]) {
      const until = performance.now() + ms;
      await sleepUntil(until);
      expect(performance.now()).toBeGreaterThanOrEqual(until);
    }
  });
});

describe('ControlPacer', () => {
  it('takes no time without a link model', async () => {
    const pacer = new ControlPacer('none');
    expect(pacer.model).toBeUndefined();
    // Settles within microtasks: before the next turn of the event loop.
    let settled = false;
    void pacer.transfer(4096).then(() => (settled = true));
    await Promise.resolve();
    await Promise.resolve();
    expect(settled).toBe(true);
  });

  it('lasts at least the sum of the modelled transfers for back-to-back transfers', async () => {
    const pacer = new ControlPacer('hs');
    const each = controlTransferMicros(LINK_MODELS.hs, 4096) / 1000;
    const t0 = performance.now();
    for (let i = 0; i < 50; i++) await pacer.transfer(4096);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(50 * each);
  });
});
