// `tcp:HOST[:PORT]` / `udp:HOST[:PORT]` (IPv6 in brackets) → transport, host and port (the family's default if none).
import { FlashError } from '../contracts/errors.js';

export interface NetworkTarget {
  transport: 'tcp' | 'udp';
  host: string;
  /** Undefined when the address gives none and no default was given. */
  port?: number;
  /** `tcp:HOST:PORT` (IPv6 hosts in brackets; `tcp:HOST` without a port): the candidate's key and device id. */
  id: string;
}

export function parseNetworkUri(uri: string, defaultPort?: number): NetworkTarget {
  const m = /^(tcp|udp):(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s/]+))(?::(\d{1,5}))?$/.exec(uri.trim());
  if (!m) {
    throw new FlashError('bad_request', `${JSON.stringify(uri)} is not a network device address: use tcp:HOST[:PORT] or udp:HOST[:PORT]`);
  }
  const transport = m[1] as 'tcp' | 'udp';
  const host = (m[2] ?? m[3] ?? '').toLowerCase();
  const port = m[4] === undefined ? defaultPort : Number(m[4]);
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) {
    throw new FlashError('bad_request', `${JSON.stringify(uri)} has port ${m[4]}, outside 1–65535`);
  }
  const shown = host.includes(':') ? `[${host}]` : host;
  return { transport, host, id: `${transport}:${shown}${port === undefined ? '' : `:${port}`}`, ...(port !== undefined ? { port } : {}) };
}
