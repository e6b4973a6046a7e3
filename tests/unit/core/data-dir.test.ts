// The one default data dir: XDG on Linux (with and without $XDG_CONFIG_HOME), macOS and Windows places.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultDataDir } from '../../../src/core/data-dir.js';

describe('defaultDataDir', () => {
  it('follows each platform’s convention for per-user config', () => {
    expect(defaultDataDir({}, 'linux', '/home/t')).toBe(join('/home/t', '.config', 'flash-station'));
    expect(defaultDataDir({ XDG_CONFIG_HOME: '/cfg' }, 'linux', '/home/t')).toBe(join('/cfg', 'flash-station'));
    expect(defaultDataDir({}, 'darwin', '/Users/t')).toBe(join('/Users/t', 'Library', 'Application Support', 'flash-station'));
    expect(defaultDataDir({ APPDATA: 'C:/Users/t/AppData/Roaming' }, 'win32', 'C:/Users/t')).toBe(join('C:/Users/t/AppData/Roaming', 'flash-station'));
    expect(defaultDataDir({}, 'win32', 'C:/Users/t')).toBe(join('C:/Users/t', 'AppData', 'Roaming', 'flash-station'));
  });
});
