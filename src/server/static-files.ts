// Serves the built web UI (dist/renderer) with a strict Content-Security-Policy that lets it reach only its own socket.
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream';
import { realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * The CSP for pages served from `host` (the validated Host header): scripts, styles and sockets of this station only.
 * It says what the page's own meta CSP (src/renderer/index.html) says, plus the socket's explicit scheme and host.
 */
export function contentSecurityPolicy(host: string, tls = false): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    tls ? `connect-src 'self' wss://${host} https://${host}` : `connect-src 'self' ws://${host} http://${host}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Source maps are left in dist for debugging but never served: they would hand out the whole source. */
const NEVER_SERVED = new Set(['.map']);

const FALLBACK = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Flash Station</title></head>
<body><h1>Flash Station</h1><p>The station is running, but the web UI has not been built. Run <code>npm run build</code>,
or use the <code>flash-station</code> command line and the WebSocket at <code>/flash-progress</code>.</p></body></html>`;

function securityHeaders(host: string, tls: boolean): Record<string, string> {
  return {
    'content-security-policy': contentSecurityPolicy(host, tls),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cross-origin-opener-policy': 'same-origin',
  };
}

/**
 * Answer a GET/HEAD for the UI; returns false when the path is not a file of the UI (caller sends 404). Without a
 * built UI (`staticDir` undefined) `/` and `/index.html` get `notBuilt`, a page saying so.
 */
export async function serveStatic(req: IncomingMessage, res: ServerResponse, pathname: string, staticDir: string | undefined, host: string, tls = false, notBuilt = FALLBACK): Promise<boolean> {
  const headers = securityHeaders(host, tls);
  if (!staticDir) {
    if (pathname !== '/' && pathname !== '/index.html') return false;
    res.writeHead(200, { ...headers, 'content-type': TYPES['.html']!, 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : notBuilt);
    return true;
  }
  const root = resolve(staticDir);
  let rel: string;
  try {
    rel = decodeURIComponent(pathname);
  } catch {
    return false;
  }
  if (rel.includes('\0') || NEVER_SERVED.has(extname(rel).toLowerCase())) return false;
  let file = normalize(join(root, rel));
  if (file !== root && !file.startsWith(root + sep)) return false;
  let info = await stat(file).catch(() => undefined);
  if (info?.isDirectory()) {
    file = join(file, 'index.html');
    info = await stat(file).catch(() => undefined);
  }
  if (!info?.isFile()) {
    // Client-side routes fall back to the app shell; asset-looking paths do not.
    if (extname(rel)) return false;
    file = join(root, 'index.html');
    info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) return false;
  }
  // A symlink inside the UI folder must not lead out of it.
  const [realRoot, realFile] = await Promise.all([realpath(root).catch(() => root), realpath(file).catch(() => undefined)]);
  if (!realFile || (realFile !== realRoot && !realFile.startsWith(realRoot + sep))) return false;
  const type = TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
  const immutable = /\/assets\//.test(file.slice(root.length));
  res.writeHead(200, {
    ...headers,
    'content-type': type,
    'content-length': info.size,
    'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
  });
  if (req.method === 'HEAD') {
    res.end();
    return true;
  }
  // pipeline, not pipe: a client gone mid-file destroys the read stream too (pipe left it paused, its file open).
  pipeline(createReadStream(file), res, () => undefined);
  return true;
}
