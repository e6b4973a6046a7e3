// The desktop window comes back where it was, but never off-screen, never below its minimum size, and a broken or
// missing state file means the default window.
import { describe, expect, it } from 'vitest';
import { captureWindowState, DEFAULT_SIZE, MIN_SIZE, restoreWindowState } from '../../../src/main/window-state.js';

const laptop = { x: 0, y: 0, width: 1920, height: 1050 };
const rightMonitor = { x: 1920, y: 0, width: 2560, height: 1400 };

describe('window state', () => {
  it('puts a window back where it was on a display that is still there', () => {
    const saved = { bounds: { x: 2100, y: 80, width: 1500, height: 900 }, maximized: false };
    expect(restoreWindowState(saved, [laptop, rightMonitor])).toEqual({ bounds: saved.bounds, maximized: false });
  });

  it('drops the position, keeping the size, when its monitor was unplugged', () => {
    const saved = { bounds: { x: 2100, y: 80, width: 1500, height: 900 }, maximized: true };
    expect(restoreWindowState(saved, [laptop])).toEqual({ bounds: { width: 1500, height: 900 }, maximized: true });
  });

  it('drops the position when only a sliver of the title bar would be on screen', () => {
    const saved = { bounds: { x: 1900, y: 10, width: 1000, height: 700 }, maximized: false };
    expect(restoreWindowState(saved, [laptop]).bounds).toEqual({ width: 1000, height: 700 });
    const above = { bounds: { x: 100, y: -500, width: 1000, height: 700 }, maximized: false };
    expect(restoreWindowState(above, [laptop]).bounds).toEqual({ width: 1000, height: 700 });
  });

  it('clamps sizes to the minimum and to the largest display', () => {
    const tiny = { bounds: { x: 10, y: 10, width: 100, height: 50 }, maximized: false };
    expect(restoreWindowState(tiny, [laptop]).bounds).toEqual({ x: 10, y: 10, ...MIN_SIZE });
    const huge = { bounds: { x: 0, y: 0, width: 9000, height: 9000 }, maximized: false };
    expect(restoreWindowState(huge, [laptop]).bounds).toEqual({ x: 0, y: 0, width: 1920, height: 1050 });
  });

  it('opens the default window for a missing or malformed state', () => {
    for (const bad of [undefined, null, 'x', 42, {}, { bounds: { x: 'a', y: 0, width: 1, height: 1 } }, { bounds: { x: NaN, y: 0, width: 900, height: 600 } }]) {
      expect(restoreWindowState(bad, [laptop])).toEqual({ bounds: { ...DEFAULT_SIZE }, maximized: false });
    }
  });

  it('saves the normal bounds of a maximized window, so un-maximizing goes back to them', () => {
    const win = { getNormalBounds: () => ({ x: 5, y: 6, width: 900, height: 700 }), isMaximized: () => true };
    expect(captureWindowState(win)).toEqual({ bounds: { x: 5, y: 6, width: 900, height: 700 }, maximized: true });
  });
});
