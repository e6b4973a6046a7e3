// REST on the station's port (contract §3): jobs, devices, history, limits, health and metrics, as JSON.
import type { HeavyGate } from './heavy-gate.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FlashError, toFlashError, type ErrorCode } from '../core/errors.js';
import type { HistoryQuery, StationApi } from '../core/station-api.js';
import { renderMetrics } from './metrics.js';
import { sendError, sendJson } from './http-errors.js';
import { HISTORY_CSV_LIMIT_MAX, HISTORY_STATES } from '../protocol/schemas.js';
import { validateCommand, validateHistoryQuery } from './validate.js';
import type { WsHub } from './ws-hub.js';

const MAX_BODY = 1024 * 1024;

export interface ApiContext {
  station: StationApi;
  hub: WsHub;
  authenticated: boolean;
  corsHeaders: Record<string, string>;
  /** Replace the station token (POST /api/token/regenerate); every WebSocket session must authenticate again. */
  rotateToken(): Promise<string>;
  /** Bounds the endpoints that read many history rows (CSV, analytics). */
  heavy?: HeavyGate;
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    // Read an oversized body to its end (up to a point) so the client sees our 413 rather than a reset.
    if (size > 16 * MAX_BODY) req.destroy();
    if (size <= MAX_BODY) chunks.push(chunk as Buffer);
  }
  if (size > MAX_BODY) throw new FlashError('too_large', 'Request body over 1 MiB.');
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new FlashError('invalid_json', 'Request body is not valid JSON.');
  }
}

function fromQuery(url: URL, names: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [param, field] of Object.entries(names)) {
    const v = url.searchParams.get(param);
    if (v !== null && v !== '') out[field] = v;
  }
  return out;
}

/** A query parameter as the number it spells, or the text itself (which the schema then refuses, naming the field). */
function numberParam(url: URL, name: string): number | string | undefined {
  const v = url.searchParams.get(name);
  if (v === null || v === '') return undefined;
  return /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
}

function intParam(url: URL, name: string): number | undefined {
  const v = url.searchParams.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new FlashError('bad_request', `Query parameter ${name} must be a non-negative integer.`);
  return n;
}

/** Handles /api/*, /healthz and /metrics; returns false for other paths. */
export async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL, ctx: ApiContext): Promise<boolean> {
  const { station } = ctx;
  const path = url.pathname;
  const method = req.method ?? 'GET';
  const json = (status: number, body: unknown): true => {
    sendJson(res, status, body, ctx.corsHeaders);
    return true;
  };
  const error = (code: ErrorCode, message: string): true => {
    sendError(res, code, message, undefined, ctx.corsHeaders);
    return true;
  };

  if (path === '/healthz') {
    json(200, { ok: true, version: station.version, clients: ctx.hub.size });
    return true;
  }
  if (path === '/metrics') {
    const text = renderMetrics(station, ctx.hub);
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store' });
    res.end(text);
    return true;
  }
  if (!path.startsWith('/api/')) return false;

  const isChange = method !== 'GET' && method !== 'HEAD';
  if (isChange && !ctx.authenticated) {
    sendError(res, 'unauthorized', 'Changes need the station token: send "Authorization: Bearer TOKEN" (DATA_DIR/token).', 401,
      { ...ctx.corsHeaders, 'www-authenticate': 'Bearer realm="flash-station"' });
    return true;
  }
  try {
    const jobAction = /^\/api\/jobs\/([^/]+)\/(pause|resume|cancel)$/.exec(path);
    const jobGet = /^\/api\/jobs\/([^/]+)$/.exec(path);
    if (path === '/api/flash/start') {
      if (method !== 'POST') return methodNotAllowed(res, ctx, 'POST');
      const body = (await readBody(req)) ?? {};
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new FlashError('bad_request', 'Body must be a JSON object.');
      const query: Record<string, unknown> = fromQuery(url, { device_id: 'deviceId', deviceId: 'deviceId', partition: 'partition', image: 'image', plan: 'plan', address: 'address' });
      // A query string has no integers: `?address=4096` means the number (`?address=0x1000` is the wire's string form).
      if (typeof query.address === 'string' && /^\d+$/.test(query.address)) query.address = Number(query.address);
      const command = { ...query, ...(body as Record<string, unknown>), type: 'start_flash' };
      const checked = validateCommand(command);
      if (!checked.ok) return error(checked.code, checked.message);
      const { type: _t, requestId: _r, ...request } = checked.command as typeof command & { requestId?: string };
      const started = await station.startFlash(request);
      json(200, { jobId: started.jobId, status: started.status, jobIds: started.jobIds, ...(started.batchId ? { batchId: started.batchId } : {}) });
      return true;
    }
    if (jobAction) {
      if (method !== 'POST') return methodNotAllowed(res, ctx, 'POST');
      const id = decodeURIComponent(jobAction[1]!);
      const action = jobAction[2] as 'pause' | 'resume' | 'cancel';
      json(200, action === 'pause' ? station.pause(id) : action === 'resume' ? station.resume(id) : station.cancel(id));
      return true;
    }
    if (path === '/api/limits') {
      if (method !== 'POST' && method !== 'PUT') return methodNotAllowed(res, ctx, 'POST, PUT');
      const body = (await readBody(req)) ?? {};
      const checked = validateCommand({ ...(body as Record<string, unknown>), type: 'set_limits' });
      if (!checked.ok) return error(checked.code, checked.message);
      const { jobId, bytesPerSecond } = checked.command as { jobId?: string; bytesPerSecond: number | null };
      station.setLimits(jobId, bytesPerSecond);
      json(200, { jobId: jobId ?? null, bytesPerSecond });
      return true;
    }
    const bulk = /^\/api\/jobs\/(pause|resume|cancel)-all$/.exec(path);
    if (bulk) {
      if (method !== 'POST') return methodNotAllowed(res, ctx, 'POST');
      const action = bulk[1];
      return json(200, action === 'pause' ? station.pauseAll() : action === 'resume' ? station.resumeAll() : station.cancelAll());
    }
    if (path === '/api/settings') {
      if (method === 'GET') return json(200, station.getSettings());
      if (method !== 'PUT' && method !== 'PATCH' && method !== 'POST') return methodNotAllowed(res, ctx, 'GET, PUT, PATCH');
      const body = await readBody(req);
      if (typeof body !== 'object' || body === null || Array.isArray(body)) return error('bad_request', 'Body must be a JSON object of settings to change.');
      return json(200, station.updateSettings(body));
    }
    if (path === '/api/token/regenerate') {
      if (method !== 'POST') return methodNotAllowed(res, ctx, 'POST');
      return json(200, { token: await ctx.rotateToken() });
    }
    if (isChange) return error('not_found', `No such endpoint: ${method} ${path}.`);
    if (path === '/api/batches') return json(200, station.batches());
    const batchGet = /^\/api\/batches\/([^/]+)$/.exec(path);
    if (batchGet) {
      const batch = station.batch(decodeURIComponent(batchGet[1]!));
      return batch ? json(200, batch) : error('not_found', `No batch ${batchGet[1]!}.`);
    }
    if (path === '/api/analytics') {
      const groupBy = url.searchParams.get('groupBy') ?? 'device';
      if (groupBy !== 'device' && groupBy !== 'image' && groupBy !== 'day') return error('bad_request', 'groupBy must be device, image or day.');
      const since = intParam(url, 'since');
      const until = intParam(url, 'until');
      return await heavy(ctx, async () => json(200, station.analytics({ groupBy, since, until })));
    }
    if (path === '/api/devices') return json(200, station.devices());
    if (path === '/api/jobs') return json(200, station.jobs());
    if (jobGet) {
      const job = station.job(decodeURIComponent(jobGet[1]!));
      if (!job) return error('job_not_found', `No job ${jobGet[1]!}.`);
      return json(200, job);
    }
    if (path === '/api/history' || path === '/api/history.csv') {
      const csv = path === '/api/history.csv' || url.searchParams.get('format') === 'csv';
      // The socket's get_history rules, one schema for both (limit ≥ 1, before ≥ 0, a known state).
      const given = Object.fromEntries(Object.entries({
        limit: numberParam(url, 'limit'),
        deviceId: url.searchParams.get('deviceId') ?? url.searchParams.get('device_id') ?? undefined,
        before: numberParam(url, 'before'),
        state: url.searchParams.get('state') ?? undefined,
        batchId: url.searchParams.get('batchId') ?? undefined,
      }).filter(([, v]) => v !== undefined));
      const checked = validateHistoryQuery(given, csv);
      if (!checked.ok) {
        const why = typeof given.state === 'string' && !(HISTORY_STATES as readonly string[]).includes(given.state)
          ? `state must be one of ${HISTORY_STATES.join(', ')}.` : checked.message;
        return error('bad_request', why);
      }
      const query = { ...(given as Omit<HistoryQuery, 'limit'>), limit: (given.limit as number | undefined) ?? (csv ? HISTORY_CSV_LIMIT_MAX : 100) };
      return csv ? await heavy(ctx, () => sendCsv(res, station.exportCsv(query), ctx)) : json(200, station.history(query));
    }
    error('not_found', `No such endpoint: ${method} ${path}.`);
    return true;
  } catch (e) {
    const flash = toFlashError(e);
    error(flash.code, flash.message);
    return true;
  }
}

function methodNotAllowed(res: ServerResponse, ctx: ApiContext, allow: string): true {
  sendError(res, 'bad_request', `${res.req.method ?? 'This method'} is not allowed here; use ${allow}.`, 405, { ...ctx.corsHeaders, allow });
  return true;
}

/** Run a heavy answer through the gate (when the server has one); a full gate is a 429 with Retry-After. */
async function heavy(ctx: ApiContext, work: () => Promise<true>): Promise<true> {
  return ctx.heavy ? ctx.heavy.run(work) : work();
}

/**
 * Stream a CSV export piece by piece: each write waits for the socket to take the last one (backpressure) or, when
 * it did, for the next turn of the event loop, so other clients are served between pieces. A client gone stops it.
 */
async function sendCsv(res: ServerResponse, chunks: Iterable<string>, ctx: ApiContext): Promise<true> {
  res.writeHead(200, {
    ...ctx.corsHeaders,
    'content-type': 'text/csv; charset=utf-8',
    'content-disposition': 'attachment; filename="flash-station-history.csv"',
    'cache-control': 'no-store',
  });
  for (const chunk of chunks) {
    if (res.destroyed) return true;
    if (!res.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    } else {
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  res.end();
  return true;
}
