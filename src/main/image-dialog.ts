// The native "choose an image" dialog behind the preload's openImageDialog: checks who asks and what, then asks the OS.
import type { BrowserWindow, IpcMainInvokeEvent, OpenDialogOptions } from 'electron';
import { isStationUrl } from './security.js';

export interface ImageDialogRequest {
  title?: string;
  directory?: boolean;
}

/** Validates the renderer's argument: an optional object with a short `title` string and a boolean `directory`. */
export function parseImageDialogRequest(value: unknown): ImageDialogRequest {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new TypeError('openImageDialog takes an options object');
  const v = value as Record<string, unknown>;
  for (const key of Object.keys(v)) if (key !== 'title' && key !== 'directory') throw new TypeError(`openImageDialog: unknown option ${key}`);
  if (v.title !== undefined && (typeof v.title !== 'string' || v.title.length > 200)) throw new TypeError('openImageDialog: title must be a string of at most 200 characters');
  if (v.directory !== undefined && typeof v.directory !== 'boolean') throw new TypeError('openImageDialog: directory must be a boolean');
  return { title: v.title, directory: v.directory };
}

export const IMAGE_FILTERS: OpenDialogOptions['filters'] = [
  { name: 'Images and bundles', extensions: ['img', 'bin', 'raw', 'simg', 'gz', 'xz', 'zst', 'bz2', 'zip', 'json', 'yaml', 'yml'] },
  { name: 'All files', extensions: ['*'] },
];

export function imageDialogHandler(
  stationOrigin: () => string,
  windowOf: () => BrowserWindow | null,
  show: (win: BrowserWindow | null, options: OpenDialogOptions) => Promise<{ canceled: boolean; filePaths: string[] }>,
) {
  return async (event: IpcMainInvokeEvent, raw: unknown): Promise<string | null> => {
    const frameUrl = event.senderFrame?.url ?? '';
    if (!isStationUrl(frameUrl, stationOrigin())) throw new Error('openImageDialog is only for the station window');
    const request = parseImageDialogRequest(raw);
    const result = await show(windowOf(), {
      title: request.title ?? (request.directory ? 'Choose a plan bundle' : 'Choose an image'),
      properties: request.directory ? ['openDirectory'] : ['openFile'],
      filters: request.directory ? undefined : IMAGE_FILTERS,
    });
    return result.canceled ? null : (result.filePaths[0] ?? null);
  };
}
