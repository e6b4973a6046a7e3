// The serial transport on a real socat pty pair: bytes both ways, line updates, busy port, timeouts, unplug.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSerialTransport, readExact, type SerialTransport } from '../../../src/transports/serial.js';
import { ptyPair, type PtyPair } from '../../helpers/pty-pair.js';

describe('serial transport on a pty pair', () => {
  let pair: PtyPair;
  const open: SerialTransport[] = [];
  beforeEach(async () => {
    pair = await ptyPair();
  });
  afterEach(async () => {
    for (const t of open.splice(0)) await t.close();
    await pair.close();
  });
  async function openEnd(path: string, parity: 'none' | 'even' = 'none'): Promise<SerialTransport> {
    const t = await openSerialTransport(path, { baudRate: 115200, parity });
    open.push(t);
    return t;
  }

  it('carries bytes both ways, with 8E1 asked for on a pty that ignores parity', async () => {
    const host = await openEnd(pair.host, 'even');
    const dev = await openEnd(pair.device);
    const data = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) & 0xff);
    await host.write(data);
    expect(Buffer.from(await readExact(dev, data.length, { timeoutMs: 2000 }))).toEqual(Buffer.from(data));
    await dev.write(new Uint8Array([0x79]));
    expect([...(await host.read(16, { timeoutMs: 2000 }))]).toEqual([0x79]);
  });

  it('changes baud and parity on the open port and keeps working', async () => {
    const host = await openEnd(pair.host);
    const dev = await openEnd(pair.device);
    await host.serial.setSignals({ dtr: false, rts: true });
    expect(host.modemLines).toBe(false);
    await host.serial.update({ baudRate: 57600 });
    await host.serial.update({ parity: 'even' });
    expect(host.serial.settings).toMatchObject({ baudRate: 57600, parity: 'even', dataBits: 8, stopBits: 1 });
    await dev.write(new Uint8Array([1, 2, 3]));
    expect([...(await readExact(host, 3, { timeoutMs: 2000 }))]).toEqual([1, 2, 3]);
  });

  it('names another program when the port is already held', async () => {
    await openEnd(pair.host);
    await expect(openSerialTransport(pair.host, { baudRate: 115200 })).rejects.toMatchObject({
      code: 'port_busy',
      message: expect.stringMatching(/another program/),
    });
  });

  it('times out a read with nothing to read, and flush drops unread bytes', async () => {
    const host = await openEnd(pair.host);
    const dev = await openEnd(pair.device);
    const started = Date.now();
    await expect(host.read(1, { timeoutMs: 150 })).rejects.toMatchObject({ code: 'timeout' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    await dev.write(new Uint8Array([5, 6]));
    await new Promise((r) => setTimeout(r, 100));
    await host.serial.flush();
    await expect(host.read(1, { timeoutMs: 150 })).rejects.toMatchObject({ code: 'timeout' });
  });

  it('reports disconnected when the other end vanishes', async () => {
    const host = await openEnd(pair.host);
    await host.write(new Uint8Array(10));
    const reading = host.read(1, { timeoutMs: 5000 }).catch((e: unknown) => e);
    await pair.close();
    expect(await reading).toMatchObject({ code: 'disconnected', message: expect.stringMatching(/10 bytes sent/) });
    expect(host.closed).toBe(true);
  });

  it('says that a missing port does not exist', async () => {
    await expect(openSerialTransport('/dev/does-not-exist-tty', { baudRate: 115200 })).rejects.toMatchObject({ code: 'device_not_found' });
  });
});
