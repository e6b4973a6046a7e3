// The UDP face of a simulated fastboot device (AOSP fastboot's UDP protocol v1): 4-byte header (id, flags,
// big-endian sequence), query / init / fastboot packets, continuation flags, one reply per host packet, and the last
// reply sent again when the host repeats the previous sequence number.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { FastbootSimDevice } from './device.js';
import type { SimSession } from './connection.js';
import { hostForUri, type FaceOptions, type SimSocketServer } from './tcp-face.js';

const ID_ERROR = 0;
const ID_QUERY = 1;
const ID_INIT = 2;
const ID_FASTBOOT = 3;
const FLAG_CONTINUATION = 1;
const MIN_PACKET = 512;
const PROTOCOL_VERSION = 1;

function packet(id: number, flags: number, seq: number, data?: Uint8Array): Buffer {
  const head = Buffer.from([id, flags, (seq >> 8) & 0xff, seq & 0xff]);
  return data?.length ? Buffer.concat([head, data]) : head;
}

/** Per-face protocol state: one host at a time, as on a real device. */
class UdpState {
  seq = 0;
  last: { seq: number; bytes: Buffer } | undefined;
  peer: RemoteInfo | undefined;
  session: SimSession | undefined;
  maxPacket = MIN_PACKET;
  /** A packet with sequence `seq` is being worked on; repeats of it are ignored until it is answered. */
  busy = false;
  /** Device → host data too large for one packet, handed out on the host's next empty packets. */
  rest: Uint8Array | undefined;
  /** Bumped on every init, so work of an aborted session never answers. */
  generation = 0;
}

export async function startUdpFace(device: FastbootSimDevice, options: FaceOptions = {}): Promise<SimSocketServer> {
  const host = options.host ?? '127.0.0.1';
  const sock: Socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const st = new UdpState();

  const send = (bytes: Buffer, to: RemoteInfo): void => {
    sock.send(bytes, to.port, to.address);
  };
  const answer = (bytes: Buffer, to: RemoteInfo): void => {
    st.last = { seq: st.seq, bytes };
    st.seq = (st.seq + 1) & 0xffff;
    st.busy = false;
    send(bytes, to);
  };
  const reset = (): void => {
    st.session?.close();
    st.session = undefined;
    st.busy = false;
    st.rest = undefined;
    st.last = undefined;
    st.generation++;
  };

  const onFastboot = (flags: number, seq: number, data: Buffer, from: RemoteInfo): void => {
    const session = st.session;
    if (!session || session.closed || st.peer?.address !== from.address || st.peer.port !== from.port) {
      send(packet(ID_ERROR, 0, seq, Buffer.from('no fastboot session: send query and init first', 'latin1')), from);
      return;
    }
    const gen = st.generation;
    const maxData = st.maxPacket - 4;
    if (data.length) {
      // Host → device: acknowledge once the device has taken the bytes in (never, if it stalls).
      st.busy = true;
      session.write(data, (flags & FLAG_CONTINUATION) === 0).then(
        () => {
          if (gen === st.generation) answer(packet(ID_FASTBOOT, 0, seq), from);
        },
        () => undefined,
      );
      return;
    }
    // Host pulls: the rest of a long reply, or the next reply once the device has one.
    const deliver = (bytes: Uint8Array): void => {
      if (gen !== st.generation) return;
      const piece = bytes.subarray(0, maxData);
      st.rest = bytes.length > maxData ? bytes.subarray(maxData) : undefined;
      answer(packet(ID_FASTBOOT, st.rest ? FLAG_CONTINUATION : 0, seq, piece), from);
    };
    if (st.rest) {
      deliver(st.rest);
      return;
    }
    st.busy = true;
    session.read().then(deliver, () => undefined);
  };

  sock.on('message', (msg, from) => {
    if (msg.length < 4) return;
    const id = msg[0]!;
    const flags = msg[1]!;
    const seq = msg.readUInt16BE(2);
    const data = msg.subarray(4);
    const live = st.session && !st.session.closed;
    if (!device.online && !live) return; // rebooting or unplugged: nobody answers
    if (id === ID_QUERY) {
      const body = Buffer.alloc(2);
      body.writeUInt16BE(st.seq);
      send(packet(ID_QUERY, 0, seq, body), from);
      return;
    }
    if (st.last && seq === st.last.seq && st.peer?.address === from.address && st.peer.port === from.port) {
      send(st.last.bytes, from);
      return;
    }
    if (id === ID_INIT && seq === st.seq) {
      // A new host session: abort whatever the previous one left in progress.
      if (data.length < 4) {
        send(packet(ID_ERROR, 0, seq, Buffer.from('init packet needs version and packet size', 'latin1')), from);
        return;
      }
      reset();
      try {
        st.session = device.connect();
      } catch {
        return;
      }
      const session = st.session;
      void session.ended.then((reason) => {
        if (st.session === session && reason !== 'closed' && reason !== 'replaced') {
          st.session = undefined;
          // A rebooted device starts counting again.
          st.seq = 0;
          st.last = undefined;
        }
      });
      st.peer = from;
      const hostMax = data.readUInt16BE(2);
      st.maxPacket = Math.max(MIN_PACKET, Math.min(hostMax, device.config.udpMaxPacket));
      const body = Buffer.alloc(4);
      body.writeUInt16BE(PROTOCOL_VERSION, 0);
      body.writeUInt16BE(st.maxPacket, 2);
      answer(packet(ID_INIT, 0, seq, body), from);
      return;
    }
    if (id !== ID_INIT && id !== ID_FASTBOOT) {
      send(packet(ID_ERROR, 0, seq, Buffer.from(`unknown packet id ${id}`, 'latin1')), from);
      return;
    }
    if (seq !== st.seq || st.busy) return; // stale, early, or a repeat of the packet being worked on
    if (id === ID_FASTBOOT) onFastboot(flags, seq, data, from);
  });

  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(options.port ?? 0, host, () => {
      sock.off('error', reject);
      resolve();
    });
  });
  sock.on('error', () => undefined);
  const port = sock.address().port;
  return {
    kind: 'udp',
    host,
    port,
    uri: `udp:${hostForUri(host)}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        reset();
        sock.close(() => resolve());
      }),
  };
}
