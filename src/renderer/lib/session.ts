// Finds the station token (the `?token=` of the address, kept in sessionStorage, or the desktop preload) and the
// WebSocket URL of the station that served this page.
import { desktopBridge } from './desktop-bridge.js';

const KEY = 'flash-station-token';

/** Reads `?token=` once, keeps it for this tab, and removes it from the address bar (and from history). */
export function takeToken(loc: Location = location, storage: Storage | undefined = globalThis.sessionStorage): string {
  const url = new URL(loc.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    try {
      storage?.setItem(KEY, fromUrl);
    } catch {
      /* storage may be disabled; the token still works for this page */
    }
    url.searchParams.delete('token');
    history.replaceState(history.state, '', url.pathname + url.search + url.hash);
    return fromUrl;
  }
  let kept: string | null = null;
  try {
    kept = storage?.getItem(KEY) ?? null;
  } catch {
    kept = null;
  }
  return kept ?? desktopBridge()?.token ?? '';
}

export function forgetToken(storage: Storage | undefined = globalThis.sessionStorage): void {
  try {
    storage?.removeItem(KEY);
  } catch {
    /* nothing kept */
  }
}

export function rememberToken(token: string, storage: Storage | undefined = globalThis.sessionStorage): void {
  try {
    storage?.setItem(KEY, token);
  } catch {
    /* not kept */
  }
}

/** `ws(s)://<this host>/flash-progress?token=…` */
export function stationSocketUrl(token: string, loc: Location = location): string {
  const scheme = loc.protocol === 'https:' ? 'wss' : 'ws';
  const q = token ? `?token=${encodeURIComponent(token)}` : '';
  return `${scheme}://${loc.host}/flash-progress${q}`;
}

/** Base for REST calls to the same station. */
export function stationHttpBase(loc: Location = location): string {
  return `${loc.protocol}//${loc.host}`;
}
