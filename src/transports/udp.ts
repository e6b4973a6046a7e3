// A connected UDP socket as a datagram pipe that a network family frames its own way (its packet header, sequence
// numbers and retransmits live in its own transport file, transports/FAMILY-udp.ts): connect with errors a technician
// can act on, and an inbox of the datagrams that decode, taken one at a time under a deadline.
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { FlashError } from '../contracts/errors.js';
import { formatHostPort } from './tcp.js';

/**
 * A socket connected to host:port (udp6 for an IPv6 address). Rejects with FlashError `unreachable` (transient) when
 * the address does not resolve or cannot be used.
 */
export async function connectUdp(host: string, port: number, label = `udp:${formatHostPort(host, port)}`): Promise<Socket> {
  const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4' });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(port, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return socket;
  } catch (e) {
    socket.close();
    const message = e instanceof Error ? e.message : String(e);
    throw new FlashError('unreachable', `Could not reach ${label}: ${message}`, { transient: true, cause: e });
  }
}

/**
 * The datagrams a socket receives, as `decode` reads them (one that does not decode is dropped), in arrival order.
 * A socket error or close ends the inbox: `next()` then rejects with `disconnected`.
 */
export class DatagramInbox<T> {
  private readonly queue: T[] = [];
  private wake: (() => void) | undefined;
  private failure: FlashError | undefined;
  private ended = false;

  constructor(
    socket: Socket,
    private readonly label: string,
    decode: (bytes: Uint8Array) => T | undefined,
  ) {
    socket.on('message', (msg: Buffer) => {
      const item = decode(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength));
      if (item === undefined) return;
      this.queue.push(item);
      this.notify();
    });
    socket.on('error', (e) => {
      this.failure ??= new FlashError('disconnected', `${label}: ${e.message}`, { transient: true, cause: e });
      this.end();
    });
    socket.on('close', () => this.end());
  }

  /** True once the socket failed or closed (datagrams already received can still be taken). */
  get closed(): boolean {
    return this.ended;
  }

  /** The socket's error, if one ended the inbox. */
  get error(): FlashError | undefined {
    return this.failure;
  }

  /** Stop taking datagrams (the owner closes the socket); a waiting `next()` rejects. */
  end(): void {
    this.ended = true;
    this.notify();
  }

  /**
   * The next datagram, or undefined when none came by `deadline` (a `Date.now()` time). Rejects with the socket's
   * error, or `disconnected` once the inbox ended and is empty.
   */
  next(deadline: number): Promise<T | undefined> {
    const item = this.queue.shift();
    if (item !== undefined) return Promise.resolve(item);
    if (this.failure) return Promise.reject(this.failure);
    if (this.ended) return Promise.reject(new FlashError('disconnected', `${this.label} is closed`, { transient: true }));
    const left = deadline - Date.now();
    if (left <= 0) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        resolve(undefined);
      }, left);
      this.wake = () => {
        clearTimeout(t);
        this.next(deadline).then(resolve, reject);
      };
    });
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}
