// Fastboot over TCP (port 5554): `FB01` handshake, then every message framed by an 8-byte big-endian length. The
// socket itself (connect, backpressure, close) is the generic one in tcp.ts.
import type { Socket } from 'node:net';
import type { DeviceLink, Transport } from '../contracts/links.js';
import { FlashError } from '../contracts/errors.js';
import { describeBytes, raceDeadline } from './deadline.js';
import { MessageQueue } from './message-queue.js';
import { reconnectingLink } from './reconnecting-link.js';
import { closeSocket, connectTcp, formatHostPort, waitForDrain } from './tcp.js';
import {
  FrameDecoder,
  HANDSHAKE_LENGTH,
  TCP_PROTOCOL_VERSION,
  encodeFrameHeader,
  encodeHandshake,
  negotiateVersion,
  parseHandshake,
} from './fastboot-tcp-framing.js';

export const FASTBOOT_PORT = 5554;

export interface TcpLinkOptions {
  /** Deadline for a response, or for the device to take more data, in ms. */
  timeoutMs?: number;
  /** Deadline to connect and complete the handshake, in ms. */
  connectTimeoutMs?: number;
}

export function createFastbootTcpLink(host: string, port: number = FASTBOOT_PORT, options: TcpLinkOptions = {}): DeviceLink {
  return reconnectingLink((signal) => TcpTransport.connect(host, port, options, signal));
}

class TcpTransport implements Transport {
  readonly kind = 'tcp' as const;
  private isClosed = false;
  private readonly queue = new MessageQueue();
  private parts: Uint8Array[] = [];
  private bytesSent = 0;
  private failure: FlashError | undefined;
  private readonly decoder = new FrameDecoder(
    (bytes) => this.parts.push(bytes.slice()),
    () => {
      const parts = this.parts;
      this.parts = [];
      this.queue.push(parts.length === 1 && parts[0] ? parts[0] : Buffer.concat(parts));
    },
  );

  private constructor(
    private readonly socket: Socket,
    private readonly label: string,
    private readonly timeoutMs: number,
    readonly version: number,
  ) {
    socket.on('data', (chunk: Buffer) => this.decoder.push(chunk));
    socket.on('error', (e) => this.lost(e.message));
    socket.on('close', () => this.lost('connection closed'));
  }

  static async connect(host: string, port: number, options: TcpLinkOptions, signal?: AbortSignal): Promise<TcpTransport> {
    const label = `tcp:${formatHostPort(host, port)}`;
    const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    const started = Date.now();
    const socket = await connectTcp(host, port, { connectTimeoutMs, label }, signal);
    const handshake = new Promise<{ version: number; rest: Uint8Array }>((resolve, reject) => {
      let got: Uint8Array = new Uint8Array(0);
      const onData = (chunk: Buffer): void => {
        got = Buffer.concat([got, chunk]);
        if (got.length < HANDSHAKE_LENGTH) return;
        cleanup();
        const theirs = parseHandshake(got.subarray(0, HANDSHAKE_LENGTH));
        if (theirs === undefined) {
          reject(new FlashError('protocol_error', `${label} answered ${JSON.stringify(new TextDecoder().decode(got.subarray(0, 4)))} instead of a fastboot TCP handshake (FBnn)`));
          return;
        }
        const version = negotiateVersion(TCP_PROTOCOL_VERSION, theirs);
        if (version < 1) {
          reject(new FlashError('protocol_error', `${label} speaks fastboot TCP version ${theirs}; version 1 or later is needed`));
          return;
        }
        resolve({ version, rest: got.subarray(HANDSHAKE_LENGTH) });
      };
      const onError = (e: Error): void => {
        cleanup();
        reject(new FlashError('disconnected', `${label} failed during the fastboot TCP handshake: ${e.message}`, { transient: true, cause: e }));
      };
      const onClose = (): void => {
        cleanup();
        reject(new FlashError('disconnected', `${label} closed the connection during the handshake`, { transient: true }));
      };
      const cleanup = (): void => {
        socket.off('data', onData);
        socket.off('error', onError);
        socket.off('close', onClose);
      };
      socket.on('data', onData);
      socket.on('error', onError);
      socket.on('close', onClose);
      socket.write(encodeHandshake());
    });
    let result: { version: number; rest: Uint8Array };
    try {
      result = await raceDeadline(
        handshake,
        Math.max(1, connectTimeoutMs - (Date.now() - started)),
        () => new FlashError('timeout', `${label} did not complete the fastboot TCP handshake within ${connectTimeoutMs / 1000} s`, { transient: true }),
        signal,
      );
    } catch (e) {
      socket.destroy();
      throw e;
    }
    const t = new TcpTransport(socket, label, options.timeoutMs ?? 30_000, result.version);
    if (result.rest.length) t.decoder.push(result.rest);
    return t;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  private lost(why: string): void {
    if (this.isClosed && this.failure) return;
    this.isClosed = true;
    this.failure ??= new FlashError(
      'disconnected',
      `${this.label} went away (${why}) after ${describeBytes(this.bytesSent)} sent` + (this.decoder.midMessage ? ', in the middle of a message' : ''),
      { transient: true },
    );
    this.queue.fail(this.failure);
  }

  private check(): void {
    if (this.failure) throw this.failure;
    if (this.isClosed) throw new FlashError('disconnected', `${this.label} is closed`, { transient: true });
  }

  async write(data: Uint8Array, signal?: AbortSignal, sent?: () => void): Promise<void> {
    if (this.failure || this.isClosed || data.length === 0) {
      sent?.();
      this.check();
      return;
    }
    // Header and bytes leave in one writev (cork), straight from the caller's buffer: no copy. The socket calls back
    // once the kernel has them (or the write failed), and only then may the caller refill that buffer (`sent`).
    this.socket.cork();
    this.socket.write(encodeFrameHeader(data.length));
    const ok = sent ? this.socket.write(data, () => sent()) : this.socket.write(data);
    this.socket.uncork();
    this.bytesSent += data.length;
    if (!ok) await this.waitDrain(signal);
  }

  private waitDrain(signal?: AbortSignal): Promise<void> {
    return waitForDrain(
      this.socket,
      this.timeoutMs,
      () =>
        new FlashError(
          'timeout',
          `${this.label} stopped taking data for ${this.timeoutMs / 1000} s, after ${describeBytes(this.bytesSent)} sent`,
          { transient: true },
        ),
      () => this.failure ?? new FlashError('disconnected', `${this.label} closed`, { transient: true }),
      signal,
    );
  }

  async drain(signal?: AbortSignal): Promise<void> {
    this.check();
    await this.waitDrain(signal);
    this.check();
  }

  read(maxLength: number, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<Uint8Array> {
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    return this.queue.take(
      maxLength,
      timeoutMs,
      () => new FlashError('timeout', `${this.label} did not answer within ${timeoutMs / 1000} s, after ${describeBytes(this.bytesSent)} sent`, { transient: true }),
      options.signal,
    );
  }

  async close(): Promise<void> {
    if (this.isClosed && this.socket.destroyed) return;
    this.isClosed = true;
    this.failure ??= new FlashError('disconnected', `${this.label} is closed`, { transient: true });
    this.queue.fail(this.failure);
    await closeSocket(this.socket, 1000);
  }
}
