// `tcp:HOST[:PORT]` / `udp:HOST[:PORT]` (IPv6 in brackets) → transport, host and port (default 5554).
import { FlashError } from '../contracts/errors.js';

export const DEFAULT_NETWORK_PORT = 5554;

export interface NetworkTarget {
  transport: 'tcp' | 'udp';
  host: string;
  port: number;
  /** `tcp:HOST:PORT` (IPv6 hosts in brackets): the device id. */
  id: string;
}

export function parseNetworkUri(uri: string): NetworkTarget {
  const m = /^(tcp|udp):(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s/]+))(?::(\d{1,5}))?$/.exec(uri.trim());
  if (!m) {
    throw new FlashError('bad_request', `${JSON.stringify(uri)} is not a network device address: use tcp:HOST[:PORT] or udp:HOST[:PORT]`);
  }
  const transport = m[1] as 'tcp' | 'udp';
  const host = (m[2] ?? m[3] ?? '').toLowerCase();
  const port = m[4] === undefined ? DEFAULT_NETWORK_PORT : Number(m[4]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new FlashError('bad_request', `${JSON.stringify(uri)} has port ${m[4]}, outside 1–65535`);
  }
  const shown = host.includes(':') ? `[${host}]` : host;
  return { transport, host, port, id: `${transport}:${shown}:${port}` };
}
