// electron-store file (window-state.json in the desktop profile dir) holding the window's last state. Kept apart from
// the station's settings, which live in DATA_DIR/settings.json and are shared with `flash-station serve`.
import Store from 'electron-store';
import type { WindowState } from './window-state.js';

interface Schema {
  window?: WindowState;
}

export class WindowStore {
  private readonly store = new Store<Schema>({ name: 'window-state', clearInvalidConfig: true });

  load(): unknown {
    return this.store.get('window');
  }

  save(state: WindowState): void {
    try {
      this.store.set('window', state);
    } catch (e) {
      // A read-only profile dir costs the window position, nothing more.
      console.error('flash-station: cannot save the window state:', (e as Error).message);
    }
  }
}
