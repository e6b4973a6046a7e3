// Electron security checklist, checked item by item against the packaging config, the main process code and the
// preload: contextIsolation/sandbox/nodeIntegration, CSP, permissions, navigation and window-open locks, no remote
// content, a minimal validated preload bridge, fuses, native modules outside asar, the deb's udev rule.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  ALLOWED_PERMISSIONS,
  CONTENT_SECURITY_POLICY,
  OPEN_IMAGE_CHANNEL,
  hardenContents,
  hardenSession,
  isStationUrl,
  secureWebPreferences,
} from '../../../src/main/security.js';
import { parseImageDialogRequest } from '../../../src/main/image-dialog.js';
import { parseDesktopArgs } from '../../../src/main/args.js';

const root = resolve(import.meta.dirname, '../../..');
const read = (p: string) => readFileSync(join(root, p), 'utf8');
const config = parse(read('electron-builder.yml')) as Record<string, unknown> & {
  electronFuses: Record<string, boolean>;
  asarUnpack: string[];
  linux: { target: string[] };
  deb: { afterInstall: string; afterRemove: string };
  win: { target: string[] };
  mac: { target: string[] };
  extraResources: { from: string; to: string }[];
};
const ORIGIN = 'http://127.0.0.1:41234';

type Handler = (...args: never[]) => unknown;

/** Records what our code registers on a session / web contents, so the handlers themselves can be exercised. */
function recorder() {
  const handlers = new Map<string, Handler>();
  const record = (name: string) => (fn: Handler) => void handlers.set(name, fn);
  return {
    handlers,
    session: {
      setPermissionRequestHandler: record('permissionRequest'),
      setPermissionCheckHandler: record('permissionCheck'),
      setDevicePermissionHandler: record('devicePermission'),
      webRequest: { onBeforeRequest: record('beforeRequest'), onHeadersReceived: record('headersReceived') },
    },
    contents: {
      on: (event: string, fn: Handler) => void handlers.set(event, fn),
      setWindowOpenHandler: record('windowOpen'),
    },
  };
}

describe('BrowserWindow preferences', () => {
  const prefs = secureWebPreferences('/app/dist/preload.cjs', []);
  it('isolates the page: contextIsolation and sandbox on, Node off everywhere, no webview', () => {
    expect(prefs.contextIsolation).toBe(true);
    expect(prefs.sandbox).toBe(true);
    expect(prefs.nodeIntegration).toBe(false);
    expect(prefs.nodeIntegrationInWorker).toBe(false);
    expect(prefs.nodeIntegrationInSubFrames).toBe(false);
    expect(prefs.webSecurity).toBe(true);
    expect(prefs.allowRunningInsecureContent).toBe(false);
    expect(prefs.webviewTag).toBe(false);
  });
  it('is in the built main bundle too (dist/main.js, when built)', () => {
    const built = join(root, 'dist/main.js');
    if (!existsSync(built)) return;
    const text = readFileSync(built, 'utf8');
    for (const needle of ['contextIsolation: true', 'sandbox: true', 'nodeIntegration: false', 'webviewTag: false', 'enableSandbox()', 'requestSingleInstanceLock()',
      'setPermissionRequestHandler', 'setWindowOpenHandler', '"will-navigate"', 'onBeforeRequest', 'Content-Security-Policy']) {
      expect(text).toContain(needle);
    }
    expect(text).not.toMatch(/nodeIntegration: true|contextIsolation: false|sandbox: false/);
  });
  it('is what main.ts uses for its window, with the sandbox forced app-wide', () => {
    const main = read('src/main/main.ts');
    expect(main).toMatch(/webPreferences: secureWebPreferences\(/);
    expect(main).toMatch(/app\.enableSandbox\(\)/);
    expect(main).toMatch(/requestSingleInstanceLock\(\)/);
    expect(main).toMatch(/hardenSession\(session\.defaultSession/);
    expect(main).toMatch(/'web-contents-created'[^\n]*hardenContents/);
    expect(main).not.toMatch(/nodeIntegration:\s*true|contextIsolation:\s*false|sandbox:\s*false|webSecurity:\s*false/);
  });
});

describe('CSP', () => {
  it('allows only the station’s own origin and no inline or eval script', () => {
    expect(CONTENT_SECURITY_POLICY).toMatch(/default-src 'self'/);
    expect(CONTENT_SECURITY_POLICY).toMatch(/script-src 'self'(;|$)/);
    expect(CONTENT_SECURITY_POLICY).toMatch(/object-src 'none'/);
    expect(CONTENT_SECURITY_POLICY).toMatch(/connect-src 'self'(;|$)/);
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-inline|unsafe-eval|\*|https?:/);
  });
  it('is also in the page itself, for browser tabs', () => {
    const html = read('src/renderer/index.html');
    const meta = /http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html)?.[1] ?? '';
    expect(meta).toMatch(/script-src 'self'/);
    expect(meta).not.toMatch(/unsafe-inline|unsafe-eval/);
  });
});

describe('session lock-down', () => {
  const r = recorder();
  hardenSession(r.session as never, ORIGIN);

  it('grants notifications and nothing else', async () => {
    expect([...ALLOWED_PERMISSIONS]).toEqual(['notifications']);
    const ask = (permission: string) =>
      new Promise<boolean>((done) => (r.handlers.get('permissionRequest') as (wc: unknown, p: string, cb: (ok: boolean) => void) => void)(null, permission, done));
    expect(await ask('notifications')).toBe(true);
    for (const p of ['media', 'geolocation', 'clipboard-read', 'openExternal', 'fullscreen', 'usb', 'serial', 'hid']) expect(await ask(p)).toBe(false);
    const check = r.handlers.get('permissionCheck') as (wc: unknown, p: string) => boolean;
    expect(check(null, 'notifications')).toBe(true);
    expect(check(null, 'media')).toBe(false);
    expect((r.handlers.get('devicePermission') as () => boolean)()).toBe(false);
  });

  it('loads nothing but the station (no remote content)', async () => {
    const cancelled = (url: string) =>
      new Promise<boolean>((done) =>
        (r.handlers.get('beforeRequest') as (d: { url: string }, cb: (v: { cancel: boolean }) => void) => void)({ url }, (v) => done(v.cancel)),
      );
    expect(await cancelled(`${ORIGIN}/assets/index.js`)).toBe(false);
    expect(await cancelled('ws://127.0.0.1:41234/flash-progress?token=x')).toBe(false);
    expect(await cancelled('https://cdn.example.com/lib.js')).toBe(true);
    expect(await cancelled('http://127.0.0.1:9999/')).toBe(true);
    expect(await cancelled('file:///etc/passwd')).toBe(true);
  });

  it('adds the strict CSP to every response', async () => {
    const headers = await new Promise<Record<string, string[]>>((done) =>
      (r.handlers.get('headersReceived') as (d: unknown, cb: (v: { responseHeaders: Record<string, string[]> }) => void) => void)(
        { responseHeaders: { 'Content-Type': ['text/html'] } },
        (v) => done(v.responseHeaders),
      ),
    );
    expect(headers['Content-Security-Policy']).toEqual([CONTENT_SECURITY_POLICY]);
  });
});

describe('navigation lock-down', () => {
  const r = recorder();
  hardenContents(r.contents as never, () => ORIGIN);
  const navigate = (event: string, url: string) => {
    let prevented = false;
    (r.handlers.get(event) as (e: { preventDefault(): void }, url: string) => void)({ preventDefault: () => (prevented = true) }, url);
    return prevented;
  };
  it('keeps will-navigate and will-redirect on the station', () => {
    expect(navigate('will-navigate', `${ORIGIN}/#/history`)).toBe(false);
    expect(navigate('will-navigate', 'https://evil.example/')).toBe(true);
    expect(navigate('will-redirect', 'http://127.0.0.1:1/')).toBe(true);
    expect(navigate('will-attach-webview', 'about:blank')).toBe(true);
  });
  it('denies every new window', () => {
    const open = r.handlers.get('windowOpen') as (d: { url: string }) => { action: string };
    expect(open({ url: 'https://example.com' }).action).toBe('deny');
    expect(open({ url: `${ORIGIN}/` }).action).toBe('deny');
  });
  it('compares whole origins, not prefixes', () => {
    expect(isStationUrl('http://127.0.0.1:41234.evil.example/', ORIGIN)).toBe(false);
    expect(isStationUrl('http://127.0.0.1:412345/', ORIGIN)).toBe(false);
    expect(isStationUrl('not a url', ORIGIN)).toBe(false);
  });
});

describe('preload bridge', () => {
  const preload = read('src/preload/preload.ts');
  it('imports only electron and exposes only token, version and openImageDialog', () => {
    const imports = [...preload.matchAll(/from\s+'([^']+)'|require\('([^']+)'\)/g)].map((m) => m[1] ?? m[2]);
    expect(imports).toEqual(['electron']);
    expect(preload.match(/exposeInMainWorld\(/g)).toHaveLength(1);
    const body = /Object\.freeze\(\{([\s\S]*?)\}\),\s*\);/.exec(preload)?.[1] ?? '';
    const keys = [...body.matchAll(/^\s*(\w+)[,:]/gm)].map((m) => m[1]);
    expect(keys).toEqual(['token', 'version', 'openImageDialog']);
    expect(preload).toContain(`'${OPEN_IMAGE_CHANNEL}'`);
    expect(preload).not.toMatch(/ipcRenderer\.(on|send)\(|exposeInMainWorld\('[^']+',\s*ipcRenderer/);
  });
  it('the built preload requires nothing but electron', () => {
    const built = join(root, 'dist/preload.cjs');
    if (!existsSync(built)) return;
    const requires = [...readFileSync(built, 'utf8').matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
    expect(new Set(requires)).toEqual(new Set(['electron']));
  });
  it('main validates the dialog request again before asking the OS', () => {
    expect(parseImageDialogRequest(undefined)).toEqual({});
    expect(parseImageDialogRequest({ title: 'Pick', directory: true })).toEqual({ title: 'Pick', directory: true });
    expect(() => parseImageDialogRequest({ defaultPath: '/etc' })).toThrow(/unknown option/);
    expect(() => parseImageDialogRequest({ title: 'x'.repeat(201) })).toThrow(/title/);
    expect(() => parseImageDialogRequest({ directory: 'yes' })).toThrow(/directory/);
    expect(() => parseImageDialogRequest('openFile')).toThrow(/options object/);
    expect(read('src/main/image-dialog.ts')).toMatch(/isStationUrl\(frameUrl/);
  });
});

describe('electron-builder.yml', () => {
  it('passes electron-builder’s own schema', async () => {
    const require = createRequire(import.meta.url);
    const { validateConfiguration } = require('app-builder-lib/out/util/config/config.js') as {
      validateConfiguration(c: unknown, l: unknown): Promise<void>;
    };
    const { DebugLogger } = require('builder-util') as { DebugLogger: new (enabled: boolean) => unknown };
    await expect(validateConfiguration(config, new DebugLogger(false))).resolves.toBeUndefined();
    await expect(validateConfiguration({ ...config, electronFuses: { runAsNod: false } }, new DebugLogger(false))).rejects.toThrow();
  });
  it('flips the fuses: no RunAsNode, no NODE_OPTIONS, no --inspect, asar only and integrity-checked, cookies encrypted', () => {
    expect(config.electronFuses).toMatchObject({
      runAsNode: false,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      onlyLoadAppFromAsar: true,
      enableEmbeddedAsarIntegrityValidation: true,
      enableCookieEncryption: true,
      grantFileProtocolExtraPrivileges: false,
    });
  });
  it('targets AppImage + deb, nsis and dmg', () => {
    expect(config.linux.target).toEqual(['AppImage', 'deb']);
    expect(config.win.target).toEqual(['nsis']);
    expect(config.mac.target).toEqual(['dmg']);
  });
  it('unpacks the native modules from asar and rebuilds them for Electron', () => {
    for (const m of ['usb', 'serialport', 'better-sqlite3']) expect(config.asarUnpack).toContain(`node_modules/${m}/**`);
    expect(config.asarUnpack).toContain('**/*.node');
    expect(config.npmRebuild).toBe(true);
  });
  it('the deb installs the udev rule and reloads udev, and removal undoes it', () => {
    expect(config.extraResources).toContainEqual(expect.objectContaining({ from: 'build/udev', to: 'udev' }));
    const install = read(config.deb.afterInstall);
    expect(install).toMatch(/resources\/udev\/70-flash-station\.rules/);
    expect(install).toMatch(/udevadm control --reload-rules/);
    expect(install).toMatch(/\/etc\/udev\/rules\.d\/70-flash-station\.rules/);
    expect(read(config.deb.afterRemove)).toMatch(/rm -f \/etc\/udev\/rules\.d\/70-flash-station\.rules/);
  });
  it('package.json main is the bundled ESM main process', () => {
    expect(JSON.parse(read('package.json')).main).toBe('dist/main.js');
  });
});

describe('desktop arguments', () => {
  it('takes the serve options', () => {
    expect(parseDesktopArgs(['.', '--port', '0', '--sim', 'fastboot:A', '--sim=fastboot:B', '--no-usb', '--data-dir', '/tmp/x', '--demo'])).toEqual({
      port: 0,
      sims: ['fastboot:A', 'fastboot:B'],
      usb: false,
      dataDir: '/tmp/x',
      demo: true,
    });
    expect(parseDesktopArgs(['--port', 'nope']).port).toBeUndefined();
  });
});
