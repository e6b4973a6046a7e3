// Minimal fastboot device peers on real sockets for transport tests: they speak the TCP/UDP framing and answer
// each message with a scripted reply, so the transports' framing, handshake and retransmission can be checked.
import { createServer, type Server, type Socket } from 'node:net';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { FrameDecoder, encodeFrameHeader } from '../../../src/transports/fastboot-tcp-framing.js';
import { FLAG_CONTINUATION, UdpId, decodePacket, encodePacket } from '../../../src/transports/fastboot-udp-packet.js';

export type Reply = (message: Uint8Array) => Uint8Array[];

export interface TcpPeer {
  port: number;
  received: Uint8Array[];
  sockets: Socket[];
  close(): Promise<void>;
}

export async function startTcpPeer(reply: Reply, handshake = 'FB01'): Promise<TcpPeer> {
  const received: Uint8Array[] = [];
  const sockets: Socket[] = [];
  const server: Server = createServer((sock) => {
    sockets.push(sock);
    let shaken = false;
    let pending = Buffer.alloc(0);
    let parts: Buffer[] = [];
    const dec = new FrameDecoder((b) => parts.push(Buffer.from(b)), () => {
      const msg = new Uint8Array(Buffer.concat(parts));
      parts = [];
      received.push(msg);
      for (const r of reply(msg)) sock.write(Buffer.concat([encodeFrameHeader(r.length), r]));
    });
    sock.on('data', (chunk: Buffer) => {
      if (!shaken) {
        pending = Buffer.concat([pending, chunk]);
        if (pending.length < 4) return;
        shaken = true;
        sock.write(handshake);
        chunk = pending.subarray(4);
      }
      if (chunk.length) dec.push(chunk);
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    received,
    sockets,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

export interface UdpPeer {
  port: number;
  received: Uint8Array[];
  /** Packets (after the query/init) to ignore, by count, to force retransmissions. */
  dropNext: number;
  packetsSeen: number;
  close(): Promise<void>;
}

/** A fastboot UDP device: query/init, acknowledges data packets, reassembles messages and sends scripted replies. */
export async function startUdpPeer(reply: Reply, maxPacket = 512): Promise<UdpPeer> {
  const sock: UdpSocket = createSocket('udp4');
  let expected = 0x1234;
  let lastReply: Buffer | undefined;
  let parts: Uint8Array[] = [];
  const outbox: Uint8Array[] = [];
  const peer: UdpPeer = {
    port: 0,
    received: [],
    dropNext: 0,
    packetsSeen: 0,
    close: () => new Promise<void>((r) => sock.close(() => r())),
  };
  sock.on('message', (msg, rinfo) => {
    const p = decodePacket(new Uint8Array(msg));
    if (!p) return;
    const send = (b: Uint8Array): void => {
      lastReply = Buffer.from(b);
      sock.send(lastReply, rinfo.port, rinfo.address);
    };
    if (p.id === UdpId.query) {
      sock.send(Buffer.from(encodePacket(UdpId.query, 0, p.seq, Uint8Array.of(expected >> 8, expected & 0xff))), rinfo.port, rinfo.address);
      return;
    }
    peer.packetsSeen++;
    if (peer.dropNext > 0) {
      peer.dropNext--;
      return;
    }
    if (p.seq === ((expected - 1) & 0xffff) && lastReply) {
      sock.send(lastReply, rinfo.port, rinfo.address);
      return;
    }
    if (p.seq !== expected) return;
    expected = (expected + 1) & 0xffff;
    if (p.id === UdpId.init) {
      send(encodePacket(UdpId.init, 0, p.seq, Uint8Array.of(0, 1, maxPacket >> 8, maxPacket & 0xff)));
      return;
    }
    if (p.payload.length > 0) {
      parts.push(p.payload.slice());
      if (!(p.flags & FLAG_CONTINUATION)) {
        const total = parts.reduce((n, x) => n + x.length, 0);
        const m = new Uint8Array(total);
        let o = 0;
        for (const x of parts) {
          m.set(x, o);
          o += x.length;
        }
        parts = [];
        peer.received.push(m);
        outbox.push(...reply(m));
      }
      send(encodePacket(UdpId.fastboot, 0, p.seq));
      return;
    }
    const next = outbox.shift();
    if (!next) {
      // Nothing to say yet: a real device would stay silent and let the host retransmit.
      expected = (expected - 1) & 0xffff;
      return;
    }
    send(encodePacket(UdpId.fastboot, 0, p.seq, next));
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  peer.port = sock.address().port;
  return peer;
}
