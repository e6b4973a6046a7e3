// The per-user config dir of "flash-station": where serve keeps settings, history, token and logs unless --data-dir.
import { homedir } from 'node:os';
import { join } from 'node:path';

/** XDG on Linux ($XDG_CONFIG_HOME or ~/.config), Library/Application Support on macOS, %APPDATA% on Windows. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform, home = homedir()): string {
  if (platform === 'win32') return join(env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'flash-station');
  if (platform === 'darwin') return join(home, 'Library', 'Application Support', 'flash-station');
  return join(env.XDG_CONFIG_HOME ?? join(home, '.config'), 'flash-station');
}
