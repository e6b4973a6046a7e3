import { describe, expect, it } from 'vitest';
import type { EspSimDevice } from '../../../../src/sim/esp/device.js';
import { UartModel } from '../../../../src/sim/esp/uart.js';

/** The part of the device the UART touches: its baud, what it receives, and its output hook. */
function fakeDevice(baud: number) {
  const got: Array<{ at: number; bytes: Uint8Array }> = [];
  let output: ((b: Uint8Array) => void) | undefined;
  const dev = {
    baud,
    receive: (bytes: Uint8Array) => got.push({ at: performance.now(), bytes }),
    on: (e: { output?: (b: Uint8Array) => void }) => {
      output = e.output;
    },
  };
  return { dev: dev as unknown as EspSimDevice, got, emit: (b: Uint8Array) => output?.(b), raw: dev };
}

describe('ESP simulator UART model', () => {
  it('delivers host bytes no faster than baud/10 bytes per second', async () => {
    const { dev, got } = fakeDevice(115200);
    const uart = new UartModel(dev, { toHost: () => undefined });
    const t0 = performance.now();
    for (let i = 0; i < 4; i++) uart.fromHost(new Uint8Array(576), 115200); // 2304 bytes = 200 ms at 115200
    await new Promise((r) => setTimeout(r, 400));
    const last = got.at(-1);
    expect(got).toHaveLength(4);
    expect((last?.at ?? 0) - t0).toBeGreaterThanOrEqual(195);
    expect((last?.at ?? 0) - t0).toBeLessThan(350);
    uart.close();
  });

  it('garbles bytes sent at another baud, and tags output with the baud it left at', async () => {
    const { dev, got, emit, raw } = fakeDevice(115200);
    const out: Array<{ bytes: Uint8Array; baud: number }> = [];
    const uart = new UartModel(dev, { toHost: (bytes, baud) => out.push({ bytes, baud }) });
    uart.fromHost(Uint8Array.from([0xc0, 1, 2, 0xc0]), 921600);
    emit(Uint8Array.from([1]));
    raw.baud = 921600;
    emit(Uint8Array.from([2]));
    await new Promise((r) => setTimeout(r, 50));
    expect(Array.from(got[0]?.bytes ?? [])).toEqual([0xfe, 0xfe, 0xfe, 0xfe]);
    expect(out.map((o) => o.baud)).toEqual([115200, 921600]);
    uart.close();
  });
});
