// Electron's security checklist in one place: window preferences, the CSP, permissions, navigation and window-open
// locks, and a request filter that lets the window reach only its own station.
import type { BrowserWindowConstructorOptions, Session, WebContents } from 'electron';

/** The only IPC channel the preload may use. */
export const OPEN_IMAGE_CHANNEL = 'flash-station:open-image-dialog';

/** Strict CSP for every response the window gets: own origin only, no inline script, no eval, no plugins. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The one permission the UI may have. */
export const ALLOWED_PERMISSIONS: ReadonlySet<string> = new Set(['notifications']);

export function secureWebPreferences(preload: string, extraArgs: string[]): NonNullable<BrowserWindowConstructorOptions['webPreferences']> {
  return {
    preload,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    experimentalFeatures: false,
    webviewTag: false,
    navigateOnDragDrop: false,
    spellcheck: false,
    additionalArguments: extraArgs,
  };
}

/** True when `url` is on the station's own origin (scheme, host and port), for http and its ws twin. */
export function isStationUrl(url: string, stationOrigin: string): boolean {
  try {
    const u = new URL(url);
    const own = new URL(stationOrigin);
    const scheme = u.protocol === 'ws:' ? 'http:' : u.protocol === 'wss:' ? 'https:' : u.protocol;
    return scheme === own.protocol && u.host === own.host;
  } catch {
    return false;
  }
}

/** Session-wide: permissions (notifications only), CSP on every response, nothing but the station (no remote content). */
export function hardenSession(session: Session, stationOrigin: string): void {
  session.setPermissionRequestHandler((_wc, permission, callback) => callback(ALLOWED_PERMISSIONS.has(permission)));
  session.setPermissionCheckHandler((_wc, permission) => ALLOWED_PERMISSIONS.has(permission));
  session.setDevicePermissionHandler(() => false);
  session.webRequest.onBeforeRequest((details, callback) => {
    const ok = isStationUrl(details.url, stationOrigin) || details.url.startsWith('devtools://') || details.url.startsWith('data:');
    callback({ cancel: !ok });
  });
  session.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] } });
  });
}

/** Per web contents: no navigation away from the station, no new windows, no webviews. */
export function hardenContents(contents: WebContents, stationOrigin: () => string): void {
  contents.on('will-navigate', (event, url) => {
    if (!isStationUrl(url, stationOrigin())) event.preventDefault();
  });
  contents.on('will-redirect', (event, url) => {
    if (!isStationUrl(url, stationOrigin())) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
}
