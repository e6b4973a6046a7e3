// The generic network pipes (src/transports/tcp.ts, udp.ts) on real loopback sockets: connect, refusals as FlashErrors,
// backpressure under a deadline, a bounded close, and the datagram inbox.
import { createSocket } from 'node:dgram';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FlashError } from '../../../src/contracts/errors.js';
import { closeSocket, connectTcp, formatHostPort, waitForDrain } from '../../../src/transports/tcp.js';
import { connectUdp, DatagramInbox } from '../../../src/transports/udp.js';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function listen(onSocket: (s: Socket) => void = () => undefined): Promise<{ server: Server; port: number }> {
  const server = createServer(onSocket);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return { server, port: (server.address() as AddressInfo).port };
}

describe('tcp', () => {
  it('formats IPv6 hosts in brackets', () => {
    expect(formatHostPort('::1', 5554)).toBe('[::1]:5554');
    expect(formatHostPort('10.0.0.2', 5554)).toBe('10.0.0.2:5554');
  });

  it('connects, and refuses a closed port as a transient `unreachable`', async () => {
    const { port } = await listen((s) => s.end());
    const socket = await connectTcp('127.0.0.1', port);
    cleanups.push(() => void socket.destroy());
    expect(socket.remoteAddress).toBe('127.0.0.1');
    const { server, port: closed } = await listen();
    await new Promise<void>((r) => server.close(() => r()));
    const e = await connectTcp('127.0.0.1', closed).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FlashError);
    expect(e).toMatchObject({ code: 'unreachable', transient: true, message: expect.stringMatching(/Could not connect to tcp:127\.0\.0\.1:\d+/) });
  });

  it('gives up when cancelled, and destroys the socket', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(connectTcp('127.0.0.1', 9, {}, ac.signal)).rejects.toMatchObject({ code: 'cancelled' });
  });

  it('waits for drain under a deadline, and closes a socket whose peer never answers the FIN', async () => {
    let peer: Socket | undefined;
    const { port } = await listen((s) => {
      peer = s;
      s.pause(); // takes nothing: the sender's buffers fill
    });
    const socket = await connectTcp('127.0.0.1', port);
    cleanups.push(() => void socket.destroy());
    const big = Buffer.alloc(8 << 20);
    while (socket.write(big));
    await expect(
      waitForDrain(socket, 100, () => new FlashError('timeout', 'stopped taking data'), () => new FlashError('disconnected', 'closed')),
    ).rejects.toMatchObject({ code: 'timeout' });
    peer?.resume();
    await waitForDrain(socket, 10_000, () => new FlashError('timeout', 'x'), () => new FlashError('disconnected', 'closed'));
    const started = performance.now();
    await closeSocket(socket, 200);
    expect(performance.now() - started).toBeLessThan(5000);
    expect(socket.destroyed).toBe(true);
  });
});

describe('udp', () => {
  it('delivers the datagrams that decode, in order, and ends with the socket', async () => {
    const server = createSocket('udp4');
    await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const port = server.address().port;
    server.on('message', (msg, rinfo) => {
      for (const reply of ['one', 'bad', 'two']) server.send(Buffer.from(`${reply}:${msg.toString()}`), rinfo.port, rinfo.address);
    });
    const socket = await connectUdp('127.0.0.1', port);
    const inbox = new DatagramInbox(socket, 'udp:test', (b) => {
      const text = Buffer.from(b).toString();
      return text.startsWith('bad') ? undefined : text;
    });
    socket.send(Buffer.from('hi'));
    const deadline = Date.now() + 5000;
    expect(await inbox.next(deadline)).toBe('one:hi');
    expect(await inbox.next(deadline)).toBe('two:hi');
    expect(await inbox.next(Date.now() + 50)).toBeUndefined();
    const waiting = inbox.next(Date.now() + 5000);
    socket.close();
    await expect(waiting).rejects.toMatchObject({ code: 'disconnected' });
    expect(inbox.closed).toBe(true);
  });

  it('refuses an endpoint it cannot use as `unreachable`, naming it', async () => {
    await expect(connectUdp('127.0.0.1', 70000)).rejects.toMatchObject({ code: 'unreachable', transient: true, message: expect.stringMatching(/^Could not reach udp:127\.0\.0\.1:70000/) });
  });
});
