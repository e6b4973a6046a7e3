// The fleet view's HTTP side: the page, GET /api/stations, commands to a station (with that station's token), and
// the same Host/Origin guards and bearer-token rule as the station's own server.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorCode } from '../contracts/errors.js';
import { createGuards, requestToken, tokenMatches } from '../server/guards.js';
import { sendError, sendJson } from '../server/http-errors.js';
import { listenOn } from '../server/listen.js';
import { createWebServer, type TlsFiles } from '../server/network-bind.js';
import { createRateLimiter } from '../server/rate-limit.js';
import { serveStatic } from '../server/static-files.js';
import type { FleetStore, StationSummary } from './fleet-store.js';
import { stationIdProblem } from './topics.js';

/** What the fleet may ask a station to do (issue 16): start, pause, resume, cancel. */
export const FLEET_COMMANDS = new Set(['start_flash', 'pause_flash', 'resume_flash', 'cancel_flash']);
const MAX_BODY = 64 * 1024;

export interface FleetServerOptions {
  host: string;
  port: number;
  token: string;
  allowOrigins?: string[];
  /** Names the view is reached by besides loopback and its bound address (`--public-name`). */
  publicNames?: string[];
  /** Serve HTTPS with this certificate and key (read and checked by server/network-bind.ts). */
  tls?: TlsFiles;
  store: FleetStore;
  /** Publishes one command on flash-station/ID/commands. */
  send(stationId: string, command: Record<string, unknown>): Promise<void>;
  /** How long a command waits for its result (default 10 s). */
  resultTimeoutMs?: number;
  metrics(): string;
  /** The built renderer (dist/renderer); the page is its fleet.html. */
  staticDir?: string;
}

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Flash Station — fleet</title></head>
<body><h1>Flash Station — fleet</h1><p>The fleet view is running, but its page has not been built. Run <code>npm run build</code>,
or read <code>GET /api/stations</code>.</p></body></html>`;

export interface RunningFleetServer {
  port: number;
  close(): Promise<void>;
}

class HttpFault extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
  }
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpFault('too_large', 'Request body over 64 KiB.');
    chunks.push(chunk as Buffer);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpFault('invalid_json', 'Request body is not valid JSON.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HttpFault('bad_request', 'Send a JSON object.');
  return value as Record<string, unknown>;
}

/** The public shape of `GET /api/stations` (contract §9), with the view's extras. */
function summary(store: FleetStore): StationSummary[] {
  return store.list().map((s) => ({
    stationId: s.stationId, online: s.online, devices: s.devices, jobs: s.jobs, lastSeen: s.lastSeen, counters: s.counters,
  }));
}

export async function startFleetServer(options: FleetServerOptions): Promise<RunningFleetServer> {
  let boundPort = options.port;
  const guards = createGuards({
    host: options.host, port: () => boundPort, allowOrigins: options.allowOrigins ?? [], tls: options.tls !== undefined, publicNames: options.publicNames ?? [],
  });
  // Commands through the fleet are limited like a WebSocket client's frames.
  const limiter = createRateLimiter(200, 400);
  const { store } = options;
  const tls = options.tls !== undefined;
  const pageDir = options.staticDir && existsSync(join(options.staticDir, 'fleet.html')) ? options.staticDir : undefined;

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!guards.hostAllowed(req.headers.host)) {
      sendError(res, 'forbidden', 'Host not allowed: reach the fleet view by a name it knows — localhost, its address, or one given with --public-name (DNS rebinding protection).', 403);
      return;
    }
    const method = req.method ?? 'GET';
    const origin = req.headers.origin;
    if (origin !== undefined && !guards.originAllowed(origin) && method !== 'GET' && method !== 'HEAD') {
      sendError(res, 'forbidden', `Origin ${origin} may not steer stations through this fleet view.`, 403);
      return;
    }
    const url = new URL(req.url ?? '/', 'http://fleet.invalid');
    const path = url.pathname;
    const page = method === 'GET' || method === 'HEAD';
    if (page && (path === '/' || path === '/index.html' || path === '/fleet.html')) {
      // The page is the renderer's fleet.html (the station's job cards and styles), built with the station's page.
      if (pageDir && (await serveStatic(req, res, '/fleet.html', pageDir, req.headers.host ?? '', tls))) return;
      await serveStatic(req, res, '/', undefined, req.headers.host ?? '', tls, NOT_BUILT); // the page saying it is not built
      return;
    }
    if (page && path.startsWith('/assets/') && pageDir && (await serveStatic(req, res, path, pageDir, req.headers.host ?? '', tls))) return;
    if (method === 'GET' && path === '/healthz') return sendJson(res, 200, { ok: true, stations: store.size });
    if (method === 'GET' && path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store' });
      res.end(options.metrics());
      return;
    }
    if (method === 'GET' && path === '/api/stations') return sendJson(res, 200, summary(store));
    const m = /^\/api\/stations\/([^/]+)(\/commands)?$/.exec(path);
    if (m) {
      const stationId = decodeURIComponent(m[1] ?? '');
      if (method === 'GET' && !m[2]) {
        const s = store.get(stationId);
        return s ? sendJson(res, 200, s) : sendError(res, 'not_found', `No station "${stationId}" has reported to the broker.`);
      }
      if (method === 'POST' && m[2]) return command(req, res, stationId);
    }
    sendError(res, 'not_found', `Nothing at ${path}.`, 404);
  }

  async function command(req: IncomingMessage, res: ServerResponse, stationId: string): Promise<void> {
    if (!tokenMatches(options.token, requestToken(req, new URL('http://x/')) ?? null)) {
      return sendError(res, 'unauthorized', 'Commands need the fleet view\'s token as Authorization: Bearer (it is in the ui URL the fleet printed).');
    }
    if (!limiter.take()) return sendError(res, 'rate_limited', 'Too many commands: at most 200 per second.');
    const problem = stationIdProblem(stationId);
    if (problem) return sendError(res, 'bad_request', `Station id refused: ${problem}.`);
    const body = await readJson(req);
    if (typeof body.type !== 'string' || !FLEET_COMMANDS.has(body.type)) {
      return sendError(res, 'bad_request', `"type" must be one of ${[...FLEET_COMMANDS].join(', ')}.`);
    }
    if (typeof body.token !== 'string' || body.token === '') {
      return sendError(res, 'bad_request', 'Give the station\'s token as "token" (from that station\'s DATA_DIR/token).');
    }
    const requestId = typeof body.requestId === 'string' ? body.requestId : `fleet-${randomUUID()}`;
    const waiting = store.awaitResult(stationId, requestId, options.resultTimeoutMs ?? 10_000);
    await options.send(stationId, { ...body, requestId });
    const result = await waiting;
    if (!result) {
      return sendJson(res, 504, { error: { code: 'timeout', message: `No result from station "${stationId}" within ${(options.resultTimeoutMs ?? 10_000) / 1000} s: is it online, started with --mqtt-commands, and allowed to read its commands topic?` }, requestId });
    }
    sendJson(res, 200, { requestId, result });
  }

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    onRequest(req, res).catch((e: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (e instanceof HttpFault) sendError(res, e.code, e.message);
      else sendError(res, 'internal', (e as Error).message ?? 'Internal error', 500);
    });
  };
  const server = createWebServer(options.tls, listener);
  server.on('clientError', (_err, socket) => socket.destroy());
  boundPort = await listenOn(server, options.port, options.host);
  return {
    port: boundPort,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
