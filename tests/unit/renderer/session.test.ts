// @vitest-environment happy-dom
// The page's token handling: taken from ?token= once, kept for the tab, removed from the address and history;
// the socket URL follows the page's own host and scheme.
import { beforeEach, describe, expect, it } from 'vitest';
import { stationSocketUrl, takeToken } from '../../../src/renderer/lib/session.js';

beforeEach(() => {
  sessionStorage.clear();
  history.replaceState(null, '', '/');
});

describe('session', () => {
  it('takes ?token= once, keeps it for the tab and strips it from the address', () => {
    history.replaceState(null, '', '/?token=s3cr3t&x=1#/history');
    expect(takeToken()).toBe('s3cr3t');
    expect(location.search).toBe('?x=1');
    expect(location.hash).toBe('#/history');
    expect(location.href).not.toContain('s3cr3t');
    expect(sessionStorage.getItem('flash-station-token')).toBe('s3cr3t');
    // A reload without the parameter still has it.
    expect(takeToken()).toBe('s3cr3t');
  });

  it('falls back to the desktop preload, then to nothing', () => {
    expect(takeToken()).toBe('');
    (globalThis as { flashStation?: unknown }).flashStation = { token: 'from-preload', version: '1', openImageDialog: async () => null };
    try {
      expect(takeToken()).toBe('from-preload');
    } finally {
      delete (globalThis as { flashStation?: unknown }).flashStation;
    }
  });

  it('builds the socket URL from the page’s own host', () => {
    expect(stationSocketUrl('a b', { protocol: 'http:', host: '127.0.0.1:3001' } as Location)).toBe('ws://127.0.0.1:3001/flash-progress?token=a%20b');
    expect(stationSocketUrl('', { protocol: 'https:', host: 'station.local' } as Location)).toBe('wss://station.local/flash-progress');
  });
});
