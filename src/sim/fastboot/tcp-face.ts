// The TCP face of a simulated fastboot device: `FB01` handshake, then 8-byte big-endian length-framed messages.
import { createServer, type Server, type Socket } from 'node:net';
import type { FastbootSimDevice } from './device.js';
import type { SimSession } from './connection.js';

export interface SimSocketServer {
  readonly kind: 'tcp' | 'udp';
  readonly host: string;
  readonly port: number;
  /** What `fastboot -s` and `--connect` take: `tcp:127.0.0.1:5554`. */
  readonly uri: string;
  close(): Promise<void>;
}

export interface FaceOptions {
  host?: string;
  /** 0 = any free port. */
  port?: number;
}

const HANDSHAKE = Buffer.from('FB01', 'latin1');

function frame(payload: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeBigUInt64BE(BigInt(payload.length));
  return Buffer.concat([head, payload]);
}

function hostForUri(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

async function pumpResponses(session: SimSession, sock: Socket): Promise<void> {
  for (;;) {
    const packet = await session.read();
    if (sock.destroyed) return;
    sock.write(frame(packet));
  }
}

/** Read the host's messages and hand them to the session, with backpressure (the socket is not read while the
 *  device is busy or stalled). */
async function pumpRequests(session: SimSession, sock: Socket): Promise<void> {
  let pending = Buffer.alloc(0);
  let handshaken = false;
  let left = -1;
  for await (const chunk of sock as AsyncIterable<Buffer>) {
    let buf = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    pending = Buffer.alloc(0);
    while (buf.length) {
      if (!handshaken) {
        if (buf.length < 4) break;
        const hs = buf.subarray(0, 4).toString('latin1');
        if (!/^FB\d\d$/.test(hs) || Number(hs.slice(2)) < 1) {
          sock.destroy();
          return;
        }
        handshaken = true;
        buf = buf.subarray(4);
        continue;
      }
      if (left < 0) {
        if (buf.length < 8) break;
        const n = buf.readBigUInt64BE(0);
        if (n > BigInt(Number.MAX_SAFE_INTEGER)) {
          sock.destroy();
          return;
        }
        left = Number(n);
        buf = buf.subarray(8);
        if (left === 0) {
          await session.write(new Uint8Array(0), true);
          left = -1;
        }
        continue;
      }
      const take = Math.min(left, buf.length);
      left -= take;
      await session.write(buf.subarray(0, take), left === 0);
      if (left === 0) left = -1;
      buf = buf.subarray(take);
    }
    if (buf.length) pending = Buffer.from(buf);
  }
}

function serve(device: FastbootSimDevice, sock: Socket): void {
  sock.setNoDelay(true);
  sock.on('error', () => undefined);
  let session: SimSession;
  try {
    session = device.connect();
  } catch {
    // Rebooting or unplugged: nobody is listening on the other side.
    sock.destroy();
    return;
  }
  sock.write(HANDSHAKE);
  void session.ended.then((reason) => {
    if (reason === 'reboot' || reason === 'closed') sock.end();
    else if (reason === 'unplugged') sock.resetAndDestroy();
    else sock.destroy();
  });
  sock.on('close', () => session.close());
  pumpResponses(session, sock).catch(() => undefined);
  pumpRequests(session, sock)
    .then(() => session.close())
    .catch(() => {
      if (!sock.destroyed) sock.destroy();
    });
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}

/**
 * Listen for fastboot hosts over TCP (AOSP `fastboot -s tcp:HOST:PORT`). While the device reboots the port is
 * closed (connections are refused, as with a real device that is restarting) and it opens again when the device is back.
 */
export async function startTcpFace(device: FastbootSimDevice, options: FaceOptions = {}): Promise<SimSocketServer> {
  const host = options.host ?? '127.0.0.1';
  const sockets = new Set<Socket>();
  const makeServer = (): Server =>
    createServer((sock) => {
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock));
      if (!device.online) {
        sock.on('error', () => undefined);
        sock.resetAndDestroy();
        return;
      }
      serve(device, sock);
    });
  let server: Server | undefined = makeServer();
  const port = await listen(server, options.port ?? 0, host);
  let closed = false;
  let relisten: ReturnType<typeof setTimeout> | undefined;
  const reopen = (): void => {
    if (closed || server || !device.online) return;
    const next = makeServer();
    listen(next, port, host).then(
      () => {
        if (closed) next.close();
        else server = next;
      },
      () => {
        relisten = setTimeout(reopen, 200);
      },
    );
  };
  const off = device.onEvent((e) => {
    if (e.type === 'offline' && server) {
      server.close();
      server = undefined;
    } else if (e.type === 'online') reopen();
  });
  return {
    kind: 'tcp',
    host,
    port,
    uri: `tcp:${hostForUri(host)}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        closed = true;
        off();
        if (relisten) clearTimeout(relisten);
        for (const s of sockets) s.destroy();
        if (server) server.close(() => resolve());
        else resolve();
        server = undefined;
      }),
  };
}

export { hostForUri };
