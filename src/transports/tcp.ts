// A TCP connection as a byte pipe that a network family frames its own way (its handshake and message lengths live in
// its own transport file, transports/FAMILY-tcp.ts): connect under a deadline with errors a technician can act on,
// wait for the socket to take more under a deadline, and close without hanging on a peer that never answers the FIN.
import { connect, type Socket } from 'node:net';
import { FlashError } from '../contracts/errors.js';
import { raceDeadline } from './deadline.js';

/** `host:port`, with an IPv6 host in brackets. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export interface TcpConnectOptions {
  /** Deadline for the connection, in ms (default 5000). */
  connectTimeoutMs?: number;
  /** Names the endpoint in errors (default `tcp:HOST:PORT`). */
  label?: string;
}

/**
 * A connected socket with Nagle off. Rejects with FlashError `unreachable` (refused, no route, unknown host),
 * `disconnected` (other socket errors, closed before connecting), `timeout` after the deadline, or `cancelled`; all
 * but `cancelled` are transient. The socket is destroyed on every failure.
 */
export async function connectTcp(host: string, port: number, options: TcpConnectOptions = {}, signal?: AbortSignal): Promise<Socket> {
  const label = options.label ?? `tcp:${formatHostPort(host, port)}`;
  const timeoutMs = options.connectTimeoutMs ?? 5000;
  const socket = connect({ host, port });
  socket.setNoDelay(true);
  const connected = new Promise<Socket>((resolve, reject) => {
    const onConnect = (): void => {
      cleanup();
      resolve(socket);
    };
    const onError = (e: Error): void => {
      cleanup();
      const refused = /ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN/.test(e.message);
      reject(new FlashError(refused ? 'unreachable' : 'disconnected', `Could not connect to ${label}: ${e.message}`, { transient: true, cause: e }));
    };
    const onClose = (): void => {
      cleanup();
      reject(new FlashError('disconnected', `${label} closed the connection before it was set up`, { transient: true }));
    };
    const cleanup = (): void => {
      socket.off('connect', onConnect);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    socket.once('connect', onConnect);
    socket.on('error', onError);
    socket.on('close', onClose);
  });
  try {
    return await raceDeadline(
      connected,
      timeoutMs,
      () => new FlashError('timeout', `${label} did not accept a connection within ${timeoutMs / 1000} s`, { transient: true }),
      signal,
    );
  } catch (e) {
    socket.destroy();
    throw e;
  }
}

/**
 * Resolves once `socket` wants more data (at once when it does not need draining). Rejects with `closed()` when the
 * socket closes first, `onTimeout()` after `timeoutMs`, or `cancelled` when `signal` aborts.
 */
export function waitForDrain(socket: Socket, timeoutMs: number, onTimeout: () => FlashError, closed: () => FlashError, signal?: AbortSignal): Promise<void> {
  if (!socket.writableNeedDrain) return Promise.resolve();
  const drained = new Promise<void>((resolve, reject) => {
    const onDrain = (): void => {
      socket.off('close', onClose);
      resolve();
    };
    const onClose = (): void => {
      socket.off('drain', onDrain);
      reject(closed());
    };
    socket.once('drain', onDrain);
    socket.once('close', onClose);
  });
  return raceDeadline(drained, timeoutMs, onTimeout, signal);
}

/** Send FIN and wait for the peer to close; destroy the socket when it has not within `graceMs`. */
export function closeSocket(socket: Socket, graceMs = 1000): Promise<void> {
  return new Promise<void>((resolve) => {
    if (socket.destroyed) return resolve();
    socket.once('close', () => resolve());
    socket.end();
    setTimeout(() => {
      socket.destroy();
      resolve();
    }, graceMs).unref();
  });
}
