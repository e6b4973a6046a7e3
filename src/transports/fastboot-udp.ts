// Fastboot over UDP (port 5554): query and init, then stop-and-wait packets with continuation and 500 ms retransmit.
// The socket and its inbox are the generic ones in udp.ts.
import type { Socket } from 'node:dgram';
import type { DeviceLink, Transport } from '../contracts/links.js';
import { FlashError } from '../contracts/errors.js';
import { cancelledError, describeBytes, throwIfAborted } from './deadline.js';
import { FASTBOOT_PORT } from './fastboot-tcp.js';
import { reconnectingLink } from './reconnecting-link.js';
import { formatHostPort } from './tcp.js';
import { connectUdp, DatagramInbox } from './udp.js';
import {
  FLAG_CONTINUATION,
  UDP_HEADER_LENGTH,
  UDP_HOST_MAX_PACKET,
  UDP_MIN_PACKET,
  UDP_PROTOCOL_VERSION,
  UdpId,
  answers,
  decodePacket,
  encodeInit,
  encodePacket,
  readU16,
  splitMessage,
  type UdpPacket,
} from './fastboot-udp-packet.js';

export interface UdpLinkOptions {
  /** Retransmit after this many ms without an answer (the protocol asks for at least 500). */
  retransmitMs?: number;
  /** Tries per packet before giving up while connecting. */
  connectAttempts?: number;
  /** Deadline for a response or for one packet's acknowledgement, in ms (tries = deadline / retransmit interval). */
  timeoutMs?: number;
}

export function createFastbootUdpLink(host: string, port: number = FASTBOOT_PORT, options: UdpLinkOptions = {}): DeviceLink {
  return reconnectingLink((signal) => UdpTransport.connect(host, port, options, signal));
}

class UdpTransport implements Transport {
  readonly kind = 'udp' as const;
  private seq = 0;
  private maxData = UDP_MIN_PACKET - UDP_HEADER_LENGTH;
  private readonly inbox: DatagramInbox<UdpPacket>;
  private queueTail: Promise<unknown> = Promise.resolve();
  private bytesSent = 0;
  private readonly leftover: Uint8Array[] = [];
  private readonly retransmitMs: number;
  private readonly timeoutMs: number;

  private constructor(
    private readonly socket: Socket,
    private readonly label: string,
    options: UdpLinkOptions,
  ) {
    this.retransmitMs = Math.max(50, options.retransmitMs ?? 500);
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.inbox = new DatagramInbox(socket, label, decodePacket);
  }

  static async connect(host: string, port: number, options: UdpLinkOptions, signal?: AbortSignal): Promise<UdpTransport> {
    const label = `udp:${formatHostPort(host, port)}`;
    const socket = await connectUdp(host, port, label);
    const t = new UdpTransport(socket, label, options);
    try {
      const attempts = Math.max(1, options.connectAttempts ?? 4);
      const query = await t.exchange(UdpId.query, new Uint8Array(0), attempts, signal);
      if (query.length < 2) throw new FlashError('protocol_error', `${label} sent an invalid answer to the UDP query`);
      t.seq = readU16(query, 0);
      const init = await t.exchange(UdpId.init, encodeInit(UDP_PROTOCOL_VERSION, UDP_HOST_MAX_PACKET), attempts, signal);
      if (init.length < 4) throw new FlashError('protocol_error', `${label} sent an invalid answer to the UDP init`);
      const version = readU16(init, 0);
      const packet = readU16(init, 2);
      if (version < 1) throw new FlashError('protocol_error', `${label} speaks fastboot UDP version ${version}; 1 or later is needed`);
      if (packet < UDP_MIN_PACKET) throw new FlashError('protocol_error', `${label} offered packets of ${packet} bytes; at least ${UDP_MIN_PACKET} are needed`);
      t.maxData = Math.min(UDP_HOST_MAX_PACKET, packet) - UDP_HEADER_LENGTH;
      return t;
    } catch (e) {
      await t.close();
      throw e;
    }
  }

  get closed(): boolean {
    return this.inbox.closed;
  }

  /** Negotiated payload bytes per packet. */
  get packetData(): number {
    return this.maxData;
  }

  /** One request/response exchange (message split into packets, each acknowledged); serialised per transport. */
  private exchange(id: number, data: Uint8Array, attempts: number, signal?: AbortSignal): Promise<Uint8Array> {
    const run = this.queueTail.then(() => this.exchangeNow(id, data, attempts, signal));
    this.queueTail = run.catch(() => undefined);
    return run;
  }

  private async exchangeNow(id: number, data: Uint8Array, attempts: number, signal?: AbortSignal): Promise<Uint8Array> {
    const received: Uint8Array[] = [];
    for (const { payload, continuation } of splitMessage(data, this.maxData)) {
      await this.sendPacket(id, continuation ? FLAG_CONTINUATION : 0, payload, attempts, received, signal);
      if (id === UdpId.fastboot) this.bytesSent += payload.length;
    }
    return received.length === 1 && received[0] ? received[0] : Buffer.concat(received);
  }

  private async sendPacket(id: number, flags: number, payload: Uint8Array, attempts: number, received: Uint8Array[], signal?: AbortSignal): Promise<void> {
    let header = { id, flags, seq: this.seq & 0xffff };
    let body = payload;
    let left = attempts;
    const errorText: string[] = [];
    while (left > 0) {
      throwIfAborted(signal);
      if (this.inbox.closed) throw this.inbox.error ?? new FlashError('disconnected', `${this.label} is closed`, { transient: true });
      this.socket.send(encodePacket(header.id, header.flags, header.seq, body));
      const deadline = Date.now() + this.retransmitMs;
      let reply: UdpPacket | undefined;
      for (;;) {
        const p = await this.inbox.next(deadline);
        if (signal?.aborted) throw cancelledError();
        if (!p) break;
        if (answers(header, p)) {
          reply = p;
          break;
        }
      }
      if (!reply) {
        left--;
        continue;
      }
      this.seq = (this.seq + 1) & 0xffff;
      if (reply.id === UdpId.error) errorText.push(new TextDecoder().decode(reply.payload));
      else if (reply.payload.length) received.push(reply.payload.slice());
      if (reply.flags & FLAG_CONTINUATION) {
        // The device has more to say: prompt for it with an empty packet of the same id.
        header = { id: reply.id, flags: 0, seq: this.seq };
        body = new Uint8Array(0);
        left = attempts;
        continue;
      }
      if (reply.id === UdpId.error) {
        throw new FlashError('device_error', `${this.label} reported an error: ${errorText.join('') || '(no message)'}`, { transient: true });
      }
      return;
    }
    const waited = ((attempts * this.retransmitMs) / 1000).toFixed(1);
    throw new FlashError(
      id === UdpId.query ? 'unreachable' : 'timeout',
      `No answer from ${this.label} after ${attempts} tries (${waited} s)` +
        (id === UdpId.fastboot ? `, after ${describeBytes(this.bytesSent)} sent` : ' — is a fastboot UDP device listening there?'),
      { transient: true },
    );
  }

  private attemptsFor(timeoutMs: number | undefined): number {
    return Math.max(1, Math.ceil((timeoutMs ?? this.timeoutMs) / this.retransmitMs));
  }

  async write(data: Uint8Array, signal?: AbortSignal, sent?: () => void): Promise<void> {
    if (data.length === 0) {
      sent?.();
      return;
    }
    let back: Uint8Array;
    try {
      back = await this.exchange(UdpId.fastboot, data, this.attemptsFor(undefined), signal);
    } finally {
      sent?.(); // every packet was acknowledged (or the exchange gave up): nothing refers to `data` any more
    }
    if (back.length) throw new FlashError('protocol_error', `${this.label} sent fastboot data out of turn while receiving data`);
  }

  async drain(): Promise<void> {
    // Every packet is acknowledged before write() resolves.
  }

  async read(maxLength: number, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<Uint8Array> {
    const held = this.leftover.shift();
    if (held) return this.clip(held, maxLength);
    const data = await this.exchange(UdpId.fastboot, new Uint8Array(0), this.attemptsFor(options.timeoutMs), options.signal);
    return this.clip(data, maxLength);
  }

  private clip(data: Uint8Array, maxLength: number): Uint8Array {
    if (data.length <= maxLength) return data;
    this.leftover.unshift(data.subarray(maxLength));
    return data.subarray(0, maxLength);
  }

  async close(): Promise<void> {
    if (this.inbox.closed) return;
    this.inbox.end();
    await new Promise<void>((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}
