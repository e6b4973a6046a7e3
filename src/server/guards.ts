// Request guards shared by HTTP and WebSocket upgrades: Host (DNS rebinding), Origin (cross-site hijacking), token.
import { timingSafeEqual, createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { hostname, networkInterfaces } from 'node:os';
import { isLoopbackHost, isWildcardHost } from './network-bind.js';

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

function bracket(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

export interface GuardOptions {
  /** The address the server is bound to. */
  host: string;
  /** Resolved after listen (port 0 becomes the real port). */
  port: () => number;
  allowOrigins: string[];
  /** Serving HTTPS/WSS: the station's own pages then come from https:// origins. */
  tls?: boolean;
  /** Further names the station is reached by (`--public-name`): a LAN host name, an address behind NAT. */
  publicNames?: string[];
  /** Names a wildcard bind answers to besides the loopback ones (default: this machine's host name and addresses). */
  localNames?: () => string[];
}

export interface Guards {
  hostAllowed(hostHeader: string | undefined): boolean;
  originAllowed(origin: string | undefined): boolean;
  /** The origins a browser page may come from (for CORS and CSP). */
  ownOrigins(): string[];
}

/** This machine's host name and interface addresses: what a wildcard-bound station may be reached by. */
export function machineNames(): string[] {
  const names = [hostname()];
  for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) names.push(i.address);
  return names;
}

/**
 * Host and Origin checks stay on whatever the bind address: DNS rebinding reaches a LAN station as well as a local
 * one. The names accepted are the loopback ones, the bound address, `publicNames`, and for a wildcard bind this
 * machine's own name and addresses.
 */
export function createGuards(options: GuardOptions): Guards {
  const extra = new Set(options.allowOrigins.map((o) => o.replace(/\/+$/, '').toLowerCase()));
  const scheme = options.tls ? 'https' : 'http';
  const defaultPort = options.tls ? 443 : 80;
  let names: string[] | undefined;
  const hostNames = (): string[] => {
    if (names) return names;
    const all = [...LOOPBACK_NAMES];
    if (!isLoopbackHost(options.host) && !isWildcardHost(options.host)) all.push(options.host);
    if (isWildcardHost(options.host)) all.push(...(options.localNames ?? machineNames)());
    all.push(...(options.publicNames ?? []));
    names = [...new Set(all.map((n) => bracket(n).toLowerCase()))];
    return names;
  };
  return {
    hostAllowed(hostHeader) {
      if (!hostHeader) return false;
      const value = hostHeader.toLowerCase();
      const port = options.port();
      return hostNames().some((name) => value === `${name}:${port}` || (port === defaultPort && value === name));
    },
    originAllowed(origin) {
      if (origin === undefined) return true; // not a browser: tools and scripts send no Origin
      const value = origin.replace(/\/+$/, '').toLowerCase();
      return extra.has(value) || this.ownOrigins().includes(value);
    },
    ownOrigins() {
      const port = options.port();
      return hostNames().flatMap((name) => (port === defaultPort ? [`${scheme}://${name}:${port}`, `${scheme}://${name}`] : [`${scheme}://${name}:${port}`]));
    },
  };
}

/** Constant-time token comparison (hashing first makes the lengths equal). */
export function tokenMatches(expected: string, given: string | undefined | null): boolean {
  if (!given) return false;
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(given).digest();
  return timingSafeEqual(a, b);
}

/** The token a request carries in `Authorization: Bearer` or `?token=`, if any. */
export function requestToken(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers.authorization;
  if (header) {
    const m = /^Bearer\s+(.+)$/i.exec(header.trim());
    if (m?.[1]) return m[1].trim();
  }
  return url.searchParams.get('token') ?? undefined;
}
