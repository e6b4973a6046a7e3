// What the Electron preload exposes on `window.flashStation` (absent in a plain browser tab).

export interface ImageDialogOptions {
  title?: string;
  /** Pick a folder (a plan bundle) instead of a file. */
  directory?: boolean;
}

export interface DesktopBridge {
  readonly token: string;
  readonly version: string;
  /** A native open dialog; resolves with an absolute path, or null when the user cancelled. */
  openImageDialog(options?: ImageDialogOptions): Promise<string | null>;
}

export function desktopBridge(): DesktopBridge | undefined {
  const bridge = (globalThis as { flashStation?: DesktopBridge }).flashStation;
  return bridge && typeof bridge.openImageDialog === 'function' ? bridge : undefined;
}
