// Electron main: a thin shell. Starts the station core in-process (the same code as `flash-station serve`), opens a
// hardened window on the station's own UI, keeps a tray icon with the status, and asks before quitting mid-flash.
import { app, BrowserWindow, dialog, ipcMain, screen, session } from 'electron';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultDataDir } from '../core/data-dir.js';
import { launchStation, type LaunchedStation } from '../server/launch.js';
import { installedBlockHelper } from '../transports/block-helper.js';
import { parseDesktopArgs } from './args.js';
import { imageDialogHandler } from './image-dialog.js';
import { hardenContents, hardenSession, OPEN_IMAGE_CHANNEL, secureWebPreferences } from './security.js';
import { mustAskBeforeQuit, quitQuestion, trayStatusOf, unfinishedJobs, type TrayStatus } from './station-status.js';
import { StationTray } from './tray.js';
import { captureWindowState, MIN_SIZE, restoreWindowState } from './window-state.js';
import { WindowStore } from './window-store.js';

/** The preload asks for its token on this channel (synchronously, once, from our window only). */
export const BOOTSTRAP_CHANNEL = 'flash-station:bootstrap';

const here = dirname(fileURLToPath(import.meta.url));
const args = parseDesktopArgs(process.argv.slice(1));
const dataDir = args.dataDir ?? defaultDataDir();

let station: LaunchedStation | null = null;
let win: BrowserWindow | null = null;
let tray: StationTray | null = null;
let origin = 'http://127.0.0.1:0';
let quitConfirmed = false;
let stationClosed = false;
let asking = false;
let windowStore: WindowStore | null = null;

// Chromium's profile lives beside the station's data, not mixed into it.
app.setPath('userData', join(dataDir, 'desktop'));
app.enableSandbox();
// Windows shows notifications only for an app with a user model id (the installer's appId).
if (process.platform === 'win32') app.setAppUserModelId('dev.flashstation.desktop');

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => showWindow());
  app.on('web-contents-created', (_event, contents) => hardenContents(contents, () => origin));
  // A start() that fails (a port taken, a refused --host) must reach fatal() too, not only a failed whenReady().
  app.whenReady().then(start).catch((e: unknown) => fatal(e));
}

function activeJobs(): number {
  return station ? unfinishedJobs(station.station.jobs()) : 0;
}

function trayStatus(): TrayStatus {
  return trayStatusOf(station?.station.jobs() ?? [], station?.station.devices().length ?? 0, station?.url ?? '');
}

async function launch(): Promise<LaunchedStation> {
  // Writing disks as the desktop user goes through the helper the deb installs (pkexec), where it is installed.
  const blockHelper = installedBlockHelper();
  const options = { ...args, dataDir, port: args.port ?? 3001, ...(blockHelper ? { blockHelper } : {}) };
  try {
    return await launchStation(options);
  } catch (e) {
    // Another station (or anything) holds the default port: run on a free one rather than not at all.
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE' && args.port === undefined) return launchStation({ ...options, port: 0 });
    throw e;
  }
}

async function start(): Promise<void> {
  station = await launch();
  origin = `http://${station.host.includes(':') ? `[${station.host}]` : station.host}:${station.port}`;
  console.log(`listening ${station.url}`);
  // A damaged history.db was moved aside at start (core/history.ts): say so where a desktop user will see it.
  const recovered = station.station.historyRecovered;
  if (recovered) {
    console.warn(`flash-station: warning: ${recovered}`);
    void dialog.showMessageBox({ type: 'warning', title: 'Flash Station', message: 'The job history was damaged and was set aside.', detail: recovered });
  }
  hardenSession(session.defaultSession, origin);

  ipcMain.on(BOOTSTRAP_CHANNEL, (event) => {
    event.returnValue = win && event.sender === win.webContents ? { token: station?.token ?? '', version: app.getVersion() } : null;
  });
  ipcMain.handle(OPEN_IMAGE_CHANNEL, imageDialogHandler(() => origin, () => win, (w, o) => (w ? dialog.showOpenDialog(w, o) : dialog.showOpenDialog(o))));

  tray = new StationTray(join(app.getAppPath(), 'assets', 'icon.png'), { show: showWindow, quit: () => app.quit() });
  tray.update(trayStatus());
  let pending: ReturnType<typeof setTimeout> | null = null;
  station.station.subscribe(() => {
    pending ??= setTimeout(() => {
      pending = null;
      tray?.update(trayStatus());
    }, 500);
  });

  if (!args.hidden) showWindow();
}

function showWindow(): void {
  if (win) {
    if (win.isMinimized()) win.restore();
    win.show();
    win.focus();
    return;
  }
  windowStore ??= new WindowStore();
  const restored = restoreWindowState(windowStore.load(), screen.getAllDisplays().map((d) => d.workArea));
  win = new BrowserWindow({
    ...restored.bounds,
    minWidth: MIN_SIZE.width,
    minHeight: MIN_SIZE.height,
    show: false,
    title: 'Flash Station',
    backgroundColor: '#0f1216',
    icon: join(app.getAppPath(), 'assets', 'icon.png'),
    webPreferences: secureWebPreferences(join(here, 'preload.cjs'), []),
  });
  win.once('ready-to-show', () => {
    if (restored.maximized) win?.maximize();
    win?.show();
  });
  let saveTimer: ReturnType<typeof setTimeout> | null = null;
  const saveState = (): void => {
    if (saveTimer) clearTimeout(saveTimer);
    saveTimer = null;
    if (win && !win.isDestroyed() && !win.isMinimized()) windowStore?.save(captureWindowState(win));
  };
  const saveSoon = (): void => {
    if (saveTimer) clearTimeout(saveTimer);
    saveTimer = setTimeout(saveState, 1000);
  };
  win.on('resize', saveSoon);
  win.on('move', saveSoon);
  win.on('maximize', saveSoon);
  win.on('unmaximize', saveSoon);
  win.on('close', (event) => {
    saveState();
    if (!mustAskBeforeQuit(activeJobs(), quitConfirmed)) return;
    event.preventDefault();
    void confirmQuit();
  });
  win.on('closed', () => {
    win = null;
  });
  win.webContents.on('render-process-gone', (_e, details) => {
    if (details.reason !== 'clean-exit') win?.reload();
  });
  void win.loadURL(`${origin}/`);
}

async function confirmQuit(): Promise<void> {
  if (asking) return;
  asking = true;
  const options = quitQuestion(activeJobs());
  const { response } = win ? await dialog.showMessageBox(win, options) : await dialog.showMessageBox(options);
  asking = false;
  if (response === 1) {
    quitConfirmed = true;
    app.quit();
  }
}

app.on('before-quit', (event) => {
  if (!mustAskBeforeQuit(activeJobs(), quitConfirmed)) {
    quitConfirmed = true;
    return;
  }
  event.preventDefault();
  void confirmQuit();
});

app.on('will-quit', (event) => {
  if (stationClosed || !station) return;
  event.preventDefault();
  const closing = station;
  station = null;
  tray?.destroy();
  tray = null;
  closing
    .close()
    .catch((e: unknown) => console.error('flash-station: closing the station failed:', e))
    .finally(() => {
      stationClosed = true;
      app.quit();
    });
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});

app.on('activate', () => {
  if (station && !win) showWindow();
});

function fatal(e: unknown): void {
  const message = e instanceof Error ? e.message : String(e);
  console.error(`flash-station: cannot start the station: ${message}`);
  dialog.showErrorBox('Flash Station cannot start', message);
  app.exit(1);
}
