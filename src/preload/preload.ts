// The bridge between the sandboxed page and the main process. Exposes exactly three things on `window.flashStation`:
// the station token, the app version, and a native image dialog — with its argument checked before it crosses.
import { contextBridge, ipcRenderer } from 'electron';

const BOOTSTRAP_CHANNEL = 'flash-station:bootstrap';
const OPEN_IMAGE_CHANNEL = 'flash-station:open-image-dialog';

interface Bootstrap {
  token: string;
  version: string;
}

const boot = ipcRenderer.sendSync(BOOTSTRAP_CHANNEL) as Bootstrap | null;

function openImageDialog(options?: unknown): Promise<string | null> {
  const request: { title?: string; directory?: boolean } = {};
  if (options !== undefined) {
    if (options === null || typeof options !== 'object' || Array.isArray(options)) return Promise.reject(new TypeError('openImageDialog takes an options object'));
    const o = options as Record<string, unknown>;
    if (o.title !== undefined) {
      if (typeof o.title !== 'string' || o.title.length > 200) return Promise.reject(new TypeError('title must be a string of at most 200 characters'));
      request.title = o.title;
    }
    if (o.directory !== undefined) {
      if (typeof o.directory !== 'boolean') return Promise.reject(new TypeError('directory must be a boolean'));
      request.directory = o.directory;
    }
  }
  return ipcRenderer.invoke(OPEN_IMAGE_CHANNEL, request) as Promise<string | null>;
}

contextBridge.exposeInMainWorld(
  'flashStation',
  Object.freeze({
    token: typeof boot?.token === 'string' ? boot.token : '',
    version: typeof boot?.version === 'string' ? boot.version : '',
    openImageDialog,
  }),
);
