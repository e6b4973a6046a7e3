// The desktop window's size, position and maximized state, kept across runs with electron-store, and put back only
// where it is still visible (a monitor may have been unplugged since).
import type { Rectangle } from 'electron';

export interface WindowState {
  bounds: Rectangle;
  maximized: boolean;
}

export const DEFAULT_SIZE = { width: 1280, height: 860 } as const;
export const MIN_SIZE = { width: 720, height: 480 } as const;

/** The part of a saved window that must lie on some display to be reachable: its title bar, roughly. */
const GRAB = { width: 120, height: 40 } as const;

function isRect(v: unknown): v is Rectangle {
  if (!v || typeof v !== 'object') return false;
  const r = v as Record<string, unknown>;
  return ['x', 'y', 'width', 'height'].every((k) => typeof r[k] === 'number' && Number.isFinite(r[k]));
}

function overlap(a: Rectangle, b: Rectangle): Rectangle {
  const x = Math.max(a.x, b.x);
  const y = Math.max(a.y, b.y);
  return { x, y, width: Math.min(a.x + a.width, b.x + b.width) - x, height: Math.min(a.y + a.height, b.y + b.height) - y };
}

/**
 * Where to open the window: the saved bounds when their top strip is on one of the displays' work areas (clamped to
 * the minimum size and to the largest display), else the default size centred by the window manager.
 */
export function restoreWindowState(saved: unknown, workAreas: Rectangle[]): { bounds: Partial<Rectangle> & { width: number; height: number }; maximized: boolean } {
  const fallback = { bounds: { ...DEFAULT_SIZE }, maximized: false };
  if (!saved || typeof saved !== 'object') return fallback;
  const s = saved as Partial<WindowState>;
  const maximized = s.maximized === true;
  if (!isRect(s.bounds)) return { ...fallback, maximized };
  const maxW = Math.max(MIN_SIZE.width, ...workAreas.map((a) => a.width));
  const maxH = Math.max(MIN_SIZE.height, ...workAreas.map((a) => a.height));
  const width = Math.round(Math.min(maxW, Math.max(MIN_SIZE.width, s.bounds.width)));
  const height = Math.round(Math.min(maxH, Math.max(MIN_SIZE.height, s.bounds.height)));
  const titleBar = { x: s.bounds.x, y: s.bounds.y, width: Math.min(width, GRAB.width * 3), height: GRAB.height };
  const visible = workAreas.some((area) => {
    const o = overlap(titleBar, area);
    return o.width >= GRAB.width && o.height >= GRAB.height / 2;
  });
  if (!visible) return { bounds: { width, height }, maximized };
  return { bounds: { x: Math.round(s.bounds.x), y: Math.round(s.bounds.y), width, height }, maximized };
}

/** The state to save: the normal (un-maximized) bounds, so restoring a maximized window un-maximizes to them. */
export function captureWindowState(win: { getNormalBounds(): Rectangle; isMaximized(): boolean }): WindowState {
  return { bounds: win.getNormalBounds(), maximized: win.isMaximized() };
}
