// The serial transport against serialport's MockBinding: modem lines, line updates, errors a technician can act on.
import { SerialPortMock } from 'serialport';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openError, openSerialTransport, readExact, type SerialBinding, type SerialBindingPort } from '../../../src/transports/serial.js';

const MockBinding = SerialPortMock.binding;

/** Records every `set()` and `update()` the transport makes, over the mock binding. */
function recordingBinding(): { binding: SerialBinding; sets: object[]; opens: object[]; updates: object[] } {
  const sets: object[] = [];
  const opens: object[] = [];
  const updates: object[] = [];
  const binding: SerialBinding = {
    async open(options) {
      opens.push(options);
      const port = (await MockBinding.open(options as Parameters<typeof MockBinding.open>[0])) as unknown as SerialBindingPort;
      const set = port.set.bind(port);
      const update = port.update.bind(port);
      return Object.assign(port, {
        set: (o: object) => (sets.push(o), set(o)),
        update: (o: { baudRate: number }) => (updates.push(o), update(o)),
      });
    },
  };
  return { binding, sets, opens, updates };
}

describe('serial transport (mock binding)', () => {
  beforeEach(() => MockBinding.createPort('/dev/ttyMOCK0', { echo: true }));
  afterEach(() => MockBinding.reset());

  it('always passes both DTR and RTS, keeping the level of the one not named', async () => {
    const r = recordingBinding();
    const t = await openSerialTransport('/dev/ttyMOCK0', { baudRate: 115200 }, { binding: r.binding });
    await t.serial.setSignals({ dtr: false });
    await t.serial.setSignals({ rts: false });
    await t.serial.setSignals({ dtr: true });
    expect(r.sets).toEqual([
      { dtr: false, rts: true, brk: false, cts: false, dsr: false },
      { dtr: false, rts: false, brk: false, cts: false, dsr: false },
      { dtr: true, rts: false, brk: false, cts: false, dsr: false },
    ]);
    await t.close();
  });

  it('opens 8E1 when asked, changes baud in place and reopens for parity keeping the lines', async () => {
    const r = recordingBinding();
    const t = await openSerialTransport('/dev/ttyMOCK0', { baudRate: 115200, parity: 'even' }, { binding: r.binding });
    expect(r.opens[0]).toMatchObject({ baudRate: 115200, parity: 'even', dataBits: 8, stopBits: 1, lock: true, hupcl: false });
    await t.serial.setSignals({ dtr: false, rts: false });
    await t.serial.update({ baudRate: 921600 });
    expect(r.updates).toEqual([{ baudRate: 921600 }]);
    expect(r.opens).toHaveLength(1);
    await t.serial.update({ parity: 'none' });
    expect(r.opens).toHaveLength(2);
    expect(r.opens[1]).toMatchObject({ baudRate: 921600, parity: 'none' });
    expect(r.sets.at(-1)).toMatchObject({ dtr: false, rts: false });
    // Still a working pipe after the reopen (the mock echoes).
    await t.write(new Uint8Array([0x7f, 0x00, 0xff]));
    expect([...(await readExact(t, 3, { timeoutMs: 1000 }))]).toEqual([0x7f, 0x00, 0xff]);
    await t.close();
  });

  it('reads what arrived in pieces as one answer, at most maxLength at a time', async () => {
    const t = await openSerialTransport('/dev/ttyMOCK0', { baudRate: 115200 }, { binding: MockBinding as unknown as SerialBinding });
    await t.write(new Uint8Array([1, 2]));
    await t.write(new Uint8Array([3, 4, 5]));
    await new Promise((r) => setTimeout(r, 20));
    expect([...(await t.read(4, { timeoutMs: 1000 }))]).toEqual([1, 2, 3, 4]);
    expect([...(await t.read(4, { timeoutMs: 1000 }))]).toEqual([5]);
    await expect(t.read(1, { timeoutMs: 50 })).rejects.toMatchObject({ code: 'timeout' });
    await t.close();
    await expect(t.write(new Uint8Array([1]))).rejects.toMatchObject({ code: 'disconnected' });
  });

  it('cancels a waiting read', async () => {
    const t = await openSerialTransport('/dev/ttyMOCK0', { baudRate: 115200 }, { binding: MockBinding as unknown as SerialBinding });
    const ac = new AbortController();
    const reading = t.read(1, { timeoutMs: 5000, signal: ac.signal });
    ac.abort();
    await expect(reading).rejects.toMatchObject({ code: 'cancelled' });
    await t.close();
  });

  it('says another program holds a locked port', async () => {
    const b = MockBinding as unknown as SerialBinding;
    const first = await openSerialTransport('/dev/ttyMOCK0', { baudRate: 115200 }, { binding: b });
    await expect(openSerialTransport('/dev/ttyMOCK0', { baudRate: 115200 }, { binding: b })).rejects.toMatchObject({
      code: 'port_busy',
      message: expect.stringContaining('in use by another program'),
    });
    await first.close();
  });

  it('maps OS open errors to codes with the fix in the message', () => {
    const denied = openError('/dev/ttyUSB0', new Error('Error: Permission denied, cannot open /dev/ttyUSB0'));
    expect(denied.code).toBe('permission_denied');
    expect(denied.message).toMatch(/dialout group/);
    expect(openError('/dev/ttyUSB0', new Error('Error: Resource busy, cannot open /dev/ttyUSB0')).code).toBe('port_busy');
    expect(openError('/dev/ttyUSB0', new Error('Error Resource temporarily unavailable Cannot lock port')).code).toBe('port_busy');
    expect(openError('/dev/ttyUSB9', new Error('Error: No such file or directory, cannot open /dev/ttyUSB9')).code).toBe('device_not_found');
    expect(openError('/dev/ttyUSB0', new Error('Error: Input/output error')).code).toBe('device_error');
  });
});
