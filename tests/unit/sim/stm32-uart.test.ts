// The simulated UART: no faster than baud / 10 bytes per second, each way.
import { describe, expect, it } from 'vitest';
import { UartReceiver, UartTransmitter } from '../../../src/sim/stm32/uart.js';

describe('simulated UART', () => {
  it('releases received bytes at baud / 10 per second', async () => {
    const rx = new UartReceiver(115200);
    const t0 = performance.now();
    rx.push(new Uint8Array(1152)); // 100 ms of line time
    await rx.take(576);
    const half = performance.now() - t0;
    await rx.take(576);
    const all = performance.now() - t0;
    expect(half).toBeGreaterThanOrEqual(48);
    expect(all).toBeGreaterThanOrEqual(98);
    expect(all).toBeLessThan(400);
  });

  it('delivers sent bytes in order once the line has carried them', async () => {
    const got: number[] = [];
    const t0 = performance.now();
    const tx = new UartTransmitter(57600, (b) => {
      got.push(...b);
    });
    tx.send(new Uint8Array(288).fill(1)); // 50 ms
    tx.send(Uint8Array.of(2, 3));
    await tx.flushed();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(49);
    expect(got.length).toBe(290);
    expect(got.slice(-2)).toEqual([2, 3]);
  });

  it('rejects a take once closed', async () => {
    const rx = new UartReceiver(9600);
    const waiting = rx.take(1);
    rx.close();
    await expect(waiting).rejects.toThrow(/closed/);
  });
});
