// Request guards shared by HTTP and WebSocket upgrades: Host (DNS rebinding), Origin (cross-site hijacking), token.
import { timingSafeEqual, createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

function isLoopbackBind(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '::1' || host === '[::1]' || host.startsWith('127.');
}

function isWildcardBind(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]' || host === '';
}

function bracket(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

export interface GuardOptions {
  /** The address the server is bound to. */
  host: string;
  /** Resolved after listen (port 0 becomes the real port). */
  port: () => number;
  allowOrigins: string[];
}

export interface Guards {
  hostAllowed(hostHeader: string | undefined): boolean;
  originAllowed(origin: string | undefined): boolean;
  /** The origins a browser page may come from (for CORS and CSP). */
  ownOrigins(): string[];
}

export function createGuards(options: GuardOptions): Guards {
  const extra = new Set(options.allowOrigins.map((o) => o.replace(/\/+$/, '').toLowerCase()));
  const hostNames = (): string[] => {
    const names = [...LOOPBACK_NAMES];
    if (!isLoopbackBind(options.host) && !isWildcardBind(options.host)) names.push(bracket(options.host).toLowerCase());
    return names;
  };
  return {
    hostAllowed(hostHeader) {
      if (!hostHeader) return false;
      // Bound to every interface on purpose: any name may reach it; the token and Origin checks still apply.
      if (isWildcardBind(options.host)) return true;
      const value = hostHeader.toLowerCase();
      const port = options.port();
      return hostNames().some((name) => value === `${name}:${port}` || (port === 80 && value === name));
    },
    originAllowed(origin) {
      if (origin === undefined) return true; // not a browser: tools and scripts send no Origin
      const value = origin.replace(/\/+$/, '').toLowerCase();
      if (extra.has(value)) return true;
      if (isWildcardBind(options.host)) {
        // Any host name may be used to reach the station; the page must still come from the station itself.
        try {
          const url = new URL(value);
          return url.protocol === 'http:' && Number(url.port || 80) === options.port();
        } catch {
          return false;
        }
      }
      return this.ownOrigins().includes(value);
    },
    ownOrigins() {
      const port = options.port();
      return hostNames().map((name) => `http://${name}:${port}`);
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
