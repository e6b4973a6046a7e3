/**
 * The station's one port: a node:http server for REST, metrics and the web UI, and `ws` in noServer mode for
 * `/flash-progress`, with our own upgrade checks (Host, Origin, capacity, token) before any handshake.
 */
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { FlashError, type ErrorCode } from '../core/errors.js';
import type { StationApi } from '../core/station-api.js';
import { DEFAULT_CHANNEL_LIMITS, type ChannelLimits } from './client-channel.js';
import { createGuards, requestToken, tokenMatches } from './guards.js';
import { createWebServer, shownHost } from './network-bind.js';
import { createHeavyGate } from './heavy-gate.js';
import { handleApi } from './http-api.js';
import { listenOn } from './listen.js';
import { sendError } from './http-errors.js';
import { serveStatic } from './static-files.js';
import { WsHub } from './ws-hub.js';
import { warmValidators } from './validate.js';
import { rotateToken } from './token.js';

export const WS_PATH = '/flash-progress';
export const MAX_FRAME_BYTES = 1024 * 1024;

export interface ServerOptions {
  host: string;
  port: number;
  dataDir: string;
  token: string;
  allowOrigins?: string[];
  staticDir?: string;
  /** True when the token came from $FLASH_STATION_TOKEN (then it cannot be regenerated over HTTP). */
  tokenFromEnv?: boolean;
  /** Tuning (tests and benchmarks); the defaults suit a station. */
  maxClients?: number;
  /** Places only clients that present the token on connecting may take (default 32). */
  reservedForAuthenticated?: number;
  /** A read-only connection that sent nothing for this long may be closed to make room (default 10 s). */
  idleEvictMs?: number;
  heartbeatMs?: number;
  channelLimits?: Partial<ChannelLimits>;
  ratePerSecond?: number;
  rateBurst?: number;
  maxRefusedFrames?: number;
  /** Serve HTTPS and WSS on the one port with this certificate chain and key (PEM). */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Names the station is reached by besides loopback and its bound address (`--public-name`). */
  publicNames?: string[];
}

export interface RunningServer {
  url: string;
  port: number;
  /** Live counters of the WebSocket hub (for tests and /metrics). */
  hub: WsHub;
  close(): Promise<void>;
}

function refuseUpgrade(socket: Duplex, status: number, reason: string, code: ErrorCode, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

export async function startServer(station: StationApi, options: ServerOptions): Promise<RunningServer> {
  let boundPort = options.port;
  let token = options.token;
  const tls = options.tls !== undefined;
  const guards = createGuards({
    host: options.host, port: () => boundPort, allowOrigins: options.allowOrigins ?? [], tls, publicNames: options.publicNames ?? [],
  });
  const maxClients = options.maxClients ?? 1024;
  const reservedForAuthenticated = Math.min(options.reservedForAuthenticated ?? 32, Math.floor(maxClients / 4));
  const idleEvictMs = options.idleEvictMs ?? 10_000;
  const hub = new WsHub(station, {
    version: station.version,
    checkToken: (t) => tokenMatches(token, t),
    limits: { ...DEFAULT_CHANNEL_LIMITS, ...options.channelLimits },
    ratePerSecond: options.ratePerSecond ?? 200,
    rateBurst: options.rateBurst ?? 400,
    maxRefusedFrames: options.maxRefusedFrames ?? 5000,
    heartbeatMs: options.heartbeatMs ?? 30_000,
  });
  const heavy = createHeavyGate();
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, clientTracking: false, perMessageDeflate: false });
  let closing = false;

  const corsFor = (origin: string | undefined): Record<string, string> =>
    origin && guards.originAllowed(origin)
      ? { 'access-control-allow-origin': origin, vary: 'Origin', 'access-control-allow-headers': 'authorization, content-type', 'access-control-allow-methods': 'GET, POST, PUT, PATCH, OPTIONS' }
      : {};

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!guards.hostAllowed(req.headers.host)) {
      sendError(res, 'forbidden', 'Host not allowed: reach the station by a name it knows — localhost, its address, or one given with --public-name (DNS rebinding protection).', 403);
      return;
    }
    const url = new URL(req.url ?? '/', 'http://station.invalid');
    const origin = req.headers.origin;
    const method = req.method ?? 'GET';
    if (origin !== undefined && !guards.originAllowed(origin) && method !== 'GET' && method !== 'HEAD') {
      sendError(res, 'forbidden', `Origin ${origin} may not change this station; start it with --allow-origin ${origin} to allow it.`, 403);
      return;
    }
    const corsHeaders = corsFor(origin);
    if (method === 'OPTIONS') {
      res.writeHead(204, corsHeaders);
      res.end();
      return;
    }
    if (url.pathname === WS_PATH) {
      sendError(res, 'bad_request', 'This is the WebSocket endpoint: connect with a WebSocket client.', 426, { upgrade: 'websocket' });
      return;
    }
    // HTTP takes the token only as Authorization: Bearer (a token in a URL would end up in logs and history).
    const authenticated = tokenMatches(token, requestToken(req, new URL('http://x/')) ?? null);
    const rotate = async (): Promise<string> => {
      if (options.tokenFromEnv ?? process.env.FLASH_STATION_TOKEN?.trim() === options.token) throw new FlashError('forbidden', 'The token comes from $FLASH_STATION_TOKEN; change it there and restart the station.');
      token = await rotateToken(options.dataDir);
      hub.revokeAll('The station token was changed; send {"type":"auth","token":…} with the new one.');
      return token;
    };
    if (await handleApi(req, res, url, { station, hub, authenticated, corsHeaders, rotateToken: rotate, heavy })) return;
    if ((method === 'GET' || method === 'HEAD') && (await serveStatic(req, res, url.pathname, options.staticDir, req.headers.host ?? '', tls))) return;
    sendError(res, 'not_found', `Nothing at ${url.pathname}.`, 404);
  }

  const listener: RequestListener = (req, res) => {
    onRequest(req, res).catch((e: unknown) => {
      if (!res.headersSent) sendError(res, 'internal', (e as Error).message ?? 'Internal error', 500);
      else res.destroy();
    });
  };
  const server: Server = createWebServer(options.tls, listener);
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://station.invalid');
    if (url.pathname !== WS_PATH) return refuseUpgrade(socket, 404, 'Not Found', 'not_found', `The WebSocket endpoint is ${WS_PATH}.`);
    if (!guards.hostAllowed(req.headers.host)) {
      return refuseUpgrade(socket, 403, 'Forbidden', 'forbidden', 'Host not allowed: connect by a name the station knows — localhost, its address, or one given with --public-name (DNS rebinding protection).');
    }
    const origin = req.headers.origin;
    if (!guards.originAllowed(origin)) {
      return refuseUpgrade(socket, 403, 'Forbidden', 'forbidden', `Origin ${String(origin)} is not allowed; start the station with --allow-origin to allow it.`);
    }
    if (closing) return refuseUpgrade(socket, 503, 'Service Unavailable', 'shutting_down', 'The station is shutting down.');
    const given = requestToken(req, url);
    const auth = given === undefined ? 'no' : tokenMatches(token, given) ? 'yes' : 'wrong';
    // Room is kept for clients with the token: read-only connections get at most maxClients − reserved places, and
    // when the places are taken the longest-idle read-only connection makes room (idle ones cannot lock others out).
    const full = hub.size >= maxClients || (auth !== 'yes' && hub.readOnlyCount >= maxClients - reservedForAuthenticated);
    if (full && !hub.evictIdleReadOnly(idleEvictMs)) {
      return refuseUpgrade(socket, 503, 'Service Unavailable', 'rate_limited', `The station serves at most ${maxClients} connections and none is idle; try again later.`);
    }
    wss.handleUpgrade(req, socket, head, (ws) => hub.accept(ws, req, auth));
  });

  warmValidators(); // before the first client's first command, which would otherwise wait for ajv
  boundPort = await listenOn(server, options.port, options.host);

  return {
    url: `${tls ? 'wss' : 'ws'}://${shownHost(options.host, options.publicNames)}:${boundPort}${WS_PATH}`,
    port: boundPort,
    hub,
    async close() {
      if (closing) return;
      closing = true;
      hub.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await new Promise((r) => setTimeout(r, 50));
      hub.terminateAll();
      server.closeAllConnections();
      await closed;
    },
  };
}
