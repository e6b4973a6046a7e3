// The three faces of the simulator: TCP framing, UDP packets (query, init, continuation, retransmission) and the
// WebUSB-shaped device, each driven byte by byte as a host would.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startTcpFace, type SimSocketServer } from '../../../src/sim/fastboot/tcp-face.js';
import { startUdpFace } from '../../../src/sim/fastboot/udp-face.js';
import { SimUsbDevice } from '../../../src/sim/fastboot/usb-face.js';
import { makeHarness, type Harness } from './harness.js';

let h: Harness;
let server: SimSocketServer | undefined;
const cleanups: Array<() => void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) c();
  await server?.close();
  server = undefined;
  await h?.close();
});

// ---------------------------------------------------------------- TCP

function tcpClient(port: number): Promise<{ sock: Socket; next(n: number): Promise<Buffer> }> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    cleanups.push(() => sock.destroy());
    let buf = Buffer.alloc(0);
    const waiters: Array<() => void> = [];
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      waiters.splice(0).forEach((w) => w());
    });
    const next = async (n: number): Promise<Buffer> => {
      while (buf.length < n) await new Promise<void>((r) => waiters.push(r));
      const out = buf.subarray(0, n);
      buf = buf.subarray(n);
      return out;
    };
    sock.once('connect', () => resolve({ sock, next }));
    sock.once('error', reject);
  });
}

const tcpFrame = (text: string): Buffer => {
  const head = Buffer.alloc(8);
  head.writeBigUInt64BE(BigInt(text.length));
  return Buffer.concat([head, Buffer.from(text, 'latin1')]);
};

async function tcpReply(c: { next(n: number): Promise<Buffer> }): Promise<string> {
  const n = Number((await c.next(8)).readBigUInt64BE(0));
  return (await c.next(n)).toString('latin1');
}

describe('TCP face', () => {
  it('exchanges FB01 handshakes, then length-framed messages, whatever the segmenting', async () => {
    h = await makeHarness();
    server = await startTcpFace(h.dev);
    expect(server.uri).toBe(`tcp:127.0.0.1:${server.port}`);
    const c = await tcpClient(server.port);
    c.sock.write('FB');
    c.sock.write('01');
    expect((await c.next(4)).toString()).toBe('FB01');
    const f = tcpFrame('getvar:serialno');
    c.sock.write(f.subarray(0, 5));
    await new Promise((r) => setTimeout(r, 10));
    c.sock.write(f.subarray(5));
    expect(await tcpReply(c)).toBe('OKAYUNIT');
    c.sock.write(Buffer.concat([tcpFrame('getvar:version'), tcpFrame('getvar:product')]));
    expect(await tcpReply(c)).toBe('OKAY0.4');
    expect(await tcpReply(c)).toBe('OKAYflashsim');
  });

  it('hangs up on a malformed handshake', async () => {
    h = await makeHarness();
    server = await startTcpFace(h.dev);
    const c = await tcpClient(server.port);
    const closed = new Promise((r) => c.sock.once('close', r));
    c.sock.write('HELO');
    await closed;
    expect(c.sock.destroyed).toBe(true);
  });

  it('closes the port while rebooting (connection refused) and opens it again when back', async () => {
    h = await makeHarness('fastboot:TR?partitions=boot:1M&reboot-delay=150ms');
    server = await startTcpFace(h.dev);
    const c = await tcpClient(server.port);
    c.sock.write(Buffer.concat([Buffer.from('FB01'), tcpFrame('reboot')]));
    await c.next(4);
    expect(await tcpReply(c)).toBe('OKAY');
    await new Promise((r) => setTimeout(r, 30));
    await expect(tcpClient(server.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await new Promise((r) => setTimeout(r, 250));
    const again = await tcpClient(server.port);
    again.sock.write(Buffer.concat([Buffer.from('FB01'), tcpFrame('getvar:product')]));
    await again.next(4);
    expect(await tcpReply(again)).toBe('OKAYflashsim');
  });
});

// ---------------------------------------------------------------- UDP

function udpClient(port: number, timeoutMs = 1000): { sock: UdpSocket; send(id: number, flags: number, seq: number, data?: string | Buffer): Promise<Buffer> } {
  const sock = createSocket('udp4');
  cleanups.push(() => sock.close());
  return {
    sock,
    send: (id, flags, seq, data) =>
      new Promise<Buffer>((resolve, reject) => {
        const onMessage = (m: Buffer): void => {
          clearTimeout(t);
          resolve(m);
        };
        const t = setTimeout(() => {
          sock.off('message', onMessage);
          reject(new Error('no UDP answer'));
        }, timeoutMs);
        sock.once('message', onMessage);
        const body = typeof data === 'string' ? Buffer.from(data, 'latin1') : (data ?? Buffer.alloc(0));
        sock.send(Buffer.concat([Buffer.from([id, flags, seq >> 8, seq & 0xff]), body]), port, '127.0.0.1');
      }),
  };
}

const hostInit = (max: number): Buffer => Buffer.from([0, 1, max >> 8, max & 0xff]);

describe('UDP face', () => {
  it('answers a query with the next sequence, negotiates the packet size, and carries commands and replies', async () => {
    h = await makeHarness('fastboot:U1?partitions=boot:1M&udp-packet=1024');
    server = await startUdpFace(h.dev);
    const c = udpClient(server.port);
    const q = await c.send(1, 0, 0);
    expect([...q]).toEqual([1, 0, 0, 0, 0, 0]);
    const init = await c.send(2, 0, 0, hostInit(8192));
    expect([...init]).toEqual([2, 0, 0, 0, 0, 1, 0x04, 0x00]);
    expect([...(await c.send(3, 0, 1, 'getvar:serialno'))]).toEqual([3, 0, 0, 1]);
    const reply = await c.send(3, 0, 2);
    expect(reply.subarray(0, 4)).toEqual(Buffer.from([3, 0, 0, 2]));
    expect(reply.subarray(4).toString()).toBe('OKAYU1');
    // The host lost our reply and sends the same packet again: the same reply comes back.
    expect((await c.send(3, 0, 2)).equals(reply)).toBe(true);
    expect([...(await c.send(1, 0, 0))].slice(4)).toEqual([0, 3]);
  });

  it('takes at least 512-byte packets, reassembles continued commands and splits long replies', async () => {
    h = await makeHarness('fastboot:U2?partitions=boot:1M&mode=fastbootd');
    server = await startUdpFace(h.dev);
    const c = udpClient(server.port);
    await c.send(1, 0, 0);
    expect((await c.send(2, 0, 0, hostInit(300))).readUInt16BE(6)).toBe(512);
    // A 600-byte command sent as two packets, the first flagged as continued.
    const long = `getvar:${'x'.repeat(593)}`;
    expect([...(await c.send(3, 1, 1, long.slice(0, 508)))]).toEqual([3, 0, 0, 1]);
    expect([...(await c.send(3, 0, 2, long.slice(508)))]).toEqual([3, 0, 0, 2]);
    expect((await c.send(3, 0, 3)).subarray(4).toString()).toBe('FAILUnknown variable');
    await c.send(3, 0, 4, 'oem log');
    expect((await c.send(3, 0, 5)).subarray(4).toString()).toMatch(/^INFOstaged/);
    expect((await c.send(3, 0, 6)).subarray(4).toString()).toBe('OKAY');
    // Make the staged log longer than one packet, then upload it.
    for (let i = 0; i < 3; i++) {
      await c.send(3, 0, 7 + i * 2, `getvar:${'y'.repeat(300)}`);
      await c.send(3, 0, 8 + i * 2);
    }
    await c.send(3, 0, 13, 'oem log');
    await c.send(3, 0, 14);
    await c.send(3, 0, 15);
    await c.send(3, 0, 16, 'upload');
    const data = await c.send(3, 0, 17);
    const size = Number.parseInt(data.subarray(8).toString(), 16);
    expect(size).toBeGreaterThan(900);
    let got = 0;
    let seq = 18;
    let flags = 1;
    while (flags & 1) {
      const p = await c.send(3, 0, seq++);
      flags = p[1]!;
      expect(p.length).toBeLessThanOrEqual(512);
      got += p.length - 4;
    }
    expect(got).toBe(size);
    expect((await c.send(3, 0, seq)).subarray(4).toString()).toBe('OKAY');
  });

  it('goes silent while unplugged, then starts a fresh sequence when back', async () => {
    h = await makeHarness('fastboot:U3?partitions=boot:1M&reboot-delay=600ms');
    server = await startUdpFace(h.dev);
    const c = udpClient(server.port, 200);
    await c.send(1, 0, 0);
    await c.send(2, 0, 0, hostInit(1024));
    await c.send(3, 0, 1, 'getvar:product');
    await c.send(3, 0, 2);
    h.dev.unplug();
    await expect(c.send(3, 0, 3, 'getvar:product')).rejects.toThrow(/no UDP answer/);
    await expect(c.send(1, 0, 0)).rejects.toThrow(/no UDP answer/);
    await new Promise((r) => setTimeout(r, 400));
    expect([...(await c.send(1, 0, 0))].slice(4)).toEqual([0, 0]);
  });

  it('answers unknown packet ids and fastboot packets without a session with an error packet', async () => {
    h = await makeHarness();
    server = await startUdpFace(h.dev);
    const c = udpClient(server.port);
    expect((await c.send(3, 0, 0, 'getvar:product'))[0]).toBe(0);
    const e = await c.send(9, 0, 0);
    expect(e[0]).toBe(0);
    expect(e.subarray(4).toString()).toMatch(/unknown packet id 9/);
  });
});

// ---------------------------------------------------------------- USB

describe('WebUSB face', () => {
  const cmd = async (usb: SimUsbDevice, text: string): Promise<string> => {
    await usb.transferOut(2, new TextEncoder().encode(text));
    const r = await usb.transferIn(1, 512);
    return Buffer.from(r.data!.buffer, r.data!.byteOffset, r.data!.byteLength).toString('latin1');
  };
  const ready = async (usb: SimUsbDevice): Promise<void> => {
    await usb.open();
    await usb.selectConfiguration(1);
    await usb.claimInterface(0);
  };

  it('looks like a fastboot interface (FF/42/03, bulk IN 1 and OUT 2, 512-byte packets)', async () => {
    h = await makeHarness();
    const usb = new SimUsbDevice(h.dev);
    expect(usb.serialNumber).toBe('UNIT');
    const alt = usb.configurations[0]!.interfaces[0]!.alternate;
    expect([alt.interfaceClass, alt.interfaceSubclass, alt.interfaceProtocol]).toEqual([0xff, 0x42, 0x03]);
    expect(alt.endpoints).toEqual([
      { endpointNumber: 1, direction: 'in', type: 'bulk', packetSize: 512 },
      { endpointNumber: 2, direction: 'out', type: 'bulk', packetSize: 512 },
    ]);
  });

  it('refuses transfers before open/claim and on the wrong endpoint, then answers one response per transferIn', async () => {
    h = await makeHarness();
    const usb = new SimUsbDevice(h.dev);
    await expect(usb.transferOut(2, new Uint8Array(1))).rejects.toMatchObject({ name: 'InvalidStateError' });
    await usb.open();
    await expect(usb.claimInterface(0)).rejects.toMatchObject({ name: 'InvalidStateError' });
    await usb.selectConfiguration(1);
    await usb.claimInterface(0);
    await expect(usb.transferOut(1, new Uint8Array(1))).rejects.toMatchObject({ name: 'NotFoundError' });
    expect(await cmd(usb, 'getvar:product')).toBe('OKAYflashsim');
    await usb.transferOut(2, new TextEncoder().encode('oem device-info'));
    const first = await usb.transferIn(1, 512);
    expect(Buffer.from(first.data!.buffer).toString()).toBe('INFOVerity mode: true');
  });

  it('overflows (babble) a transferIn shorter than the response, and times out leaving the response queued', async () => {
    h = await makeHarness();
    const usb = new SimUsbDevice(h.dev);
    await ready(usb);
    await expect(usb.transferIn(1, 512, 30)).rejects.toMatchObject({ name: 'TimeoutError' });
    await usb.transferOut(2, new TextEncoder().encode('getvar:product'));
    const r = await usb.transferIn(1, 4);
    expect(r.status).toBe('babble');
    expect(r.data!.byteLength).toBe(4);
  });

  it('after a reboot every call rejects like an unplugged device', async () => {
    h = await makeHarness('fastboot:UR?partitions=boot:1M&reboot-delay=1s');
    const usb = new SimUsbDevice(h.dev);
    await ready(usb);
    expect(await cmd(usb, 'reboot')).toBe('OKAY');
    await new Promise((r) => setTimeout(r, 10));
    expect(usb.disconnected).toBe(true);
    await expect(usb.transferOut(2, new Uint8Array(4))).rejects.toMatchObject({ name: 'NotFoundError' });
    await expect(usb.transferIn(1, 512)).rejects.toMatchObject({ name: 'NotFoundError' });
    await expect(usb.open()).rejects.toMatchObject({ name: 'NotFoundError' });
  });

  it('a stalled device holds transfers until the host closes it; reopening gives a fresh session', async () => {
    h = await makeHarness('fastboot:US?partitions=boot:1M&stall-after=100');
    const usb = new SimUsbDevice(h.dev);
    await ready(usb);
    expect(await cmd(usb, 'download:00001000')).toBe('DATA00001000');
    const stuck = usb.transferOut(2, new Uint8Array(4096));
    const outcome = stuck.then(() => 'done', (e: Error) => e.name);
    await new Promise((r) => setTimeout(r, 50));
    await usb.close();
    expect(await outcome).toBe('AbortError');
    await ready(usb);
    expect(await cmd(usb, 'getvar:product')).toBe('OKAYflashsim');
  });
});
