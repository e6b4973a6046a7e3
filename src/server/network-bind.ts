// What listening beyond loopback takes (contract §8), for the station and the fleet view alike: the TLS files read
// and checked at start, a non-loopback address refused without TLS unless --insecure-no-tls, and the name the
// printed URLs carry.
import { readFile } from 'node:fs/promises';
import { createServer, type RequestListener, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { isIP, type Socket } from 'node:net';
import { createSecureContext, type TLSSocket } from 'node:tls';
import { FlashError, fileReadReason } from '../contracts/errors.js';

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

export interface NetworkBindOptions {
  host: string;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** Allow a non-loopback `host` without TLS (`--insecure-no-tls`). */
  insecureNoTls?: boolean;
  /** `--public-name` values: each must be a bare host name or address, or the Host check would never match it. */
  publicNames?: readonly string[];
  /** What is being offered, for the error: "the station", "the fleet view". */
  what: string;
}

/** True for addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** True for the any-address binds (every interface). */
export function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]' || host === '';
}

/** The certificate and key named by the options, read and checked; undefined without TLS. */
async function loadTlsFiles(certFile: string | undefined, keyFile: string | undefined): Promise<TlsFiles | undefined> {
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined) throw new FlashError('bad_request', 'TLS needs both --tls-cert FILE and --tls-key FILE.');
  const read = (file: string, what: string): Promise<Buffer> => readFile(file).catch((e: unknown) => {
    throw new FlashError('bad_request', `Cannot read the TLS ${what} ${file}: ${fileReadReason(e)}.`);
  });
  const [cert, key] = await Promise.all([read(certFile, 'certificate'), read(keyFile, 'key')]);
  try {
    createSecureContext({ cert, key });
  } catch (e) {
    throw new FlashError('bad_request', `The TLS certificate ${certFile} and key ${keyFile} do not make a usable pair (both PEM, the key the certificate's): ${(e as Error).message}`);
  }
  return { cert, key };
}

const HOST_NAME = /^(?=.{1,253}\.?$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

/** Refuses a `--public-name` that is not a bare name or address (a scheme, port or path would never match a Host). */
function checkPublicNames(names: readonly string[]): void {
  for (const name of names) {
    const bare = name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
    if (isIP(bare) || HOST_NAME.test(name)) continue;
    throw new FlashError('bad_request', `--public-name ${JSON.stringify(name)} is not a host name or address: give the name alone, without scheme, port or path (e.g. --public-name bench7.lan).`);
  }
}

/** Reads the TLS files and refuses a plain-HTTP bind to the network; the TLS material, or undefined for plain HTTP. */
export async function prepareBind(options: NetworkBindOptions): Promise<TlsFiles | undefined> {
  checkPublicNames(options.publicNames ?? []);
  const tls = await loadTlsFiles(options.tlsCertFile, options.tlsKeyFile);
  if (!isLoopbackHost(options.host) && !tls && !options.insecureNoTls) {
    throw new FlashError('bad_request', `--host ${options.host} would offer ${options.what} to the network over plain HTTP, where the token can be read on the wire. Pass --tls-cert FILE --tls-key FILE (docs/security.md says how to make them), or --insecure-no-tls on a network you trust.`);
  }
  return tls;
}

/**
 * The host part of the printed URLs. A wildcard bind (0.0.0.0, ::) is no name a client can use, and the Host check
 * would refuse it: the first `--public-name` stands for it (the name the certificate is for), else 127.0.0.1.
 */
export function shownHost(host: string, publicNames: readonly string[] = []): string {
  const name = isWildcardHost(host) ? (publicNames[0] ?? '127.0.0.1') : host;
  return name.includes(':') && !name.startsWith('[') ? `[${name}]` : name;
}

/** The page address printed at start (`ui http…/?token=…`), for the station and the fleet view alike. */
export function pageUrl(host: string, publicNames: readonly string[] | undefined, port: number, tls: boolean, token: string): string {
  return `${tls ? 'https' : 'http'}://${shownHost(host, publicNames)}:${port}/?token=${encodeURIComponent(token)}`;
}

/** What a plain-HTTP client that reached a TLS port is told (it could not read anything else). */
export const PLAIN_HTTP_ON_TLS = 'HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n' +
  'This port speaks HTTPS: use https:// (and wss:// for the WebSocket) in the address.\n';

/**
 * The HTTP server of the station or the fleet view: HTTPS with `tls`, else plain HTTP. A plain-HTTP request that
 * reaches the HTTPS port gets a 400 in plain text saying to use https:// (TLS alone would hang up without a word).
 */
export function createWebServer(tls: { cert: string | Buffer; key: string | Buffer } | undefined, listener: RequestListener): Server {
  if (!tls) return createServer(listener);
  const server = createTlsServer({ cert: tls.cert, key: tls.key }, listener);
  // The raw connection under each TLS socket, by its remote address and port, to answer in plain text.
  const raw = new Map<string, Socket>();
  const key = (s: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string => `${s.remoteAddress ?? ''}:${s.remotePort ?? ''}`;
  server.on('connection', (socket: Socket) => {
    const k = key(socket);
    raw.set(k, socket);
    socket.once('close', () => {
      if (raw.get(k) === socket) raw.delete(k);
    });
  });
  server.on('tlsClientError', (err: Error & { code?: string }, tlsSocket: TLSSocket) => {
    const socket = raw.get(key(tlsSocket));
    if (err.code !== 'ERR_SSL_HTTP_REQUEST' || !socket || socket.destroyed || !socket.writable) return;
    socket.end(PLAIN_HTTP_ON_TLS);
  });
  return server;
}

