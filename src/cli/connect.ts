// Finds the station's URL and token for a client command and opens a StationClient over the CLI's WebSocket.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileReadReason } from '../contracts/errors.js';
import { StationClient, type WebSocketConstructor } from '../client/index.js';
import { DEFAULT_URL } from '../client/station-client.js';
import { defaultDataDir } from '../core/data-dir.js';
import { readTokenFile } from '../server/token.js';
import type { CliIo } from './io.js';
import { cliWebSocket } from './websocket.js';

export interface ClientFlags {
  url?: string;
  token?: string;
  'data-dir'?: string;
  /** PEM file of the CA that signed a `wss://` station's certificate (else the system's CAs are trusted). */
  ca?: string;
}

/** The parseArgs options every client command takes to find and reach the station. */
export const CONNECTION_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  'data-dir': { type: 'string' },
  ca: { type: 'string' },
} as const;

/**
 * The WebSocket constructor a client command uses: it trusts `--ca`, and it presents the token in the upgrade request
 * (Authorization: Bearer), so that the station counts it among the clients it keeps room for even when idle read-only
 * connections fill every other place (the auth frame the client sends next would come too late for that).
 */
async function webSocketFor(flags: ClientFlags, token: string | undefined): Promise<WebSocketConstructor> {
  const ca = flags.ca === undefined ? undefined : await readFile(flags.ca).catch((e: unknown) => {
    throw Object.assign(new Error(`Cannot read the CA file ${flags.ca}: ${fileReadReason(e)}.`), { exit: 2 });
  });
  return cliWebSocket({ ...(ca ? { ca } : {}), ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}) });
}

/** Token lookup order of contract §1: --token, $FLASH_STATION_TOKEN, DATA_DIR/token. */
export async function findToken(flags: ClientFlags, io: CliIo): Promise<string | undefined> {
  if (flags.token) return flags.token;
  const env = io.env.FLASH_STATION_TOKEN?.trim();
  if (env) return env;
  const dir = flags['data-dir'] ? resolve(flags['data-dir']) : defaultDataDir();
  return readTokenFile(dir).catch(() => undefined);
}

export function stationUrl(flags: ClientFlags, io: CliIo): string {
  return flags.url ?? io.env.FLASH_STATION_URL ?? DEFAULT_URL;
}

export async function openClient(flags: ClientFlags, io: CliIo, options: { needToken: boolean; reconnect: boolean; maxReconnectAttempts?: number; beforeConnect?: (client: StationClient) => void }): Promise<StationClient> {
  const token = await findToken(flags, io);
  const url = stationUrl(flags, io);
  if (flags.ca !== undefined && /^(ws|http):/.test(url)) {
    io.stderr.write(`warning: --ca is for wss:// stations; ${url} is plain ws:// (no TLS), so it is not used\n`);
  }
  if (options.needToken && !token) {
    throw Object.assign(new Error('No station token: pass --token, set $FLASH_STATION_TOKEN, or use --data-dir of the station (its token file).'), { exit: 2 });
  }
  try {
    return await connectWith(token, flags, io, options);
  } catch (e) {
    // A read-only command needs no token: one the station refuses (a stale token file from another station, say)
    // must not stop `devices`, `jobs` or `watch` — say so once and go on read-only.
    if (options.needToken || !token || (e as { code?: string }).code !== 'unauthorized') throw e;
    io.stderr.write('warning: the station refused the token; continuing read-only\n');
    return connectWith(undefined, flags, io, options);
  }
}

async function connectWith(token: string | undefined, flags: ClientFlags, io: CliIo, options: { reconnect: boolean; maxReconnectAttempts?: number; beforeConnect?: (client: StationClient) => void }): Promise<StationClient> {
  const client = new StationClient({
    url: stationUrl(flags, io),
    WebSocket: await webSocketFor(flags, token),
    ...(token ? { token } : {}),
    reconnect: options.reconnect,
    maxReconnectAttempts: options.reconnect ? (options.maxReconnectAttempts ?? Infinity) : 0,
  });
  options.beforeConnect?.(client);
  try {
    await client.connect();
  } catch (e) {
    client.close();
    const code = (e as { code?: string }).code;
    const why = explainConnectError(code, (e as Error).message, client.url, flags.ca);
    throw Object.assign(new Error(`Cannot use the station at ${client.url}: ${why}`), { exit: 2, ...(code ? { code } : {}) });
  }
  return client;
}

const STATION_URL_SHAPE = 'a station\'s address is ws://HOST:PORT/flash-progress (wss:// with TLS)';

/**
 * Why a client command could not use the station, in words a technician can act on (not a WebSocket close code):
 * from the StationClient error's code and the socket's reason (`src/cli/websocket.ts` words them).
 */
export function explainConnectError(code: string | undefined, message: string, url: string, ca: string | undefined): string {
  const secure = /^(wss|https):/.test(url);
  if (code === 'unauthorized') return `the station refused the token (${message})`;
  if (code === 'bad_url') return `${message.replace(/^Cannot connect to \S+: /, '')}; ${STATION_URL_SHAPE}.`;
  if (code !== 'unreachable') return message;
  if (/certificate|self[- ]signed|unable to verify/i.test(message)) {
    return `its TLS certificate is not trusted (${message.replace(/^.*\(\d+: /, '').replace(/\)\.?$/, '')}). ` +
      (ca === undefined ? 'Pass --ca FILE with the CA that signed it.' : `--ca ${ca} did not vouch for it: give the PEM certificate of the CA that signed it.`);
  }
  // A TLS client meeting a plain server.
  if (secure && /wrong version number|EPROTO|packet length too long/i.test(message)) {
    return `it does not speak TLS on that port. Use ${url.replace(/^(wss|https):/, 'ws:')} (a station serves wss:// only with --tls-cert and --tls-key).`;
  }
  const status = /Unexpected server response: (\d+)/.exec(message)?.[1];
  if (status === '503') {
    return 'it is busy (503: every place open to clients without the token is taken, or it is shutting down). Retry in a ' +
      'few seconds, or give the token (--token, $FLASH_STATION_TOKEN or --data-dir) to use the places kept for it.';
  }
  // A plain client meeting a TLS station: it answers plain HTTP with a 400 (older ones hung up).
  if (!secure && (status === '400' || /socket hang up|ECONNRESET/i.test(message))) {
    return `something there ${status ? 'refused' : 'hung up before'} the WebSocket handshake. If the station serves TLS (--tls-cert), use ${url.replace(/^(ws|http):/, 'wss:')} and --ca FILE.`;
  }
  if (status === '404') return `the server there has no WebSocket at ${pathOf(url)} (404); ${STATION_URL_SHAPE}.`;
  // Something answered, but not as a station does (another web server, another protocol).
  if (status || /not an HTTP answer|Invalid .*header|Sec-WebSocket/.test(message)) {
    return `something answered there, but not as a Flash Station (${message}). Check --url: ${STATION_URL_SHAPE}.`;
  }
  return 'no station answered there. Start `flash-station serve`, or pass --url of the running station.';
}

function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}
