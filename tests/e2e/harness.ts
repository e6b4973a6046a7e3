// End-to-end harness: a real `flash-station serve` child process with simulated devices, and Debian's Chromium
// driven by playwright-core with a fresh profile. Everything on loopback, in temp dirs, cleaned up afterwards.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const root = resolve(import.meta.dirname, '../..');
export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = join(root, 'test-results');

/** Build what a test needs when a fresh checkout has not yet (npm ci runs the build through `prepare`). */
export function ensureBuilt(what: { cli: boolean } = { cli: true }): void {
  const need = (what.cli && !existsSync(join(root, 'dist/cli.cjs'))) || !existsSync(join(root, 'dist/renderer/index.html'));
  if (!need) return;
  const r = what.cli
    ? spawnSync(process.execPath, [join(root, 'scripts/build.mjs')], { cwd: root, encoding: 'utf8' })
    : spawnSync(process.execPath, [join(root, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'vite.config.ts'], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`build failed:\n${r.stdout}\n${r.stderr}`);
}

export interface RunningStation {
  child: ChildProcess;
  wsUrl: string;
  uiUrl: string;
  port: number;
  output: string[];
  stop(): Promise<void>;
}

/** `extraArgs` go to `serve` as given (e.g. `--tls-cert FILE --tls-key FILE`). */
export async function startStation(dataDir: string, sims: string[], port = 0, extraArgs: string[] = []): Promise<RunningStation> {
  const args = [join(root, 'bin/flash-station.cjs'), 'serve', '--port', String(port), '--data-dir', dataDir, '--no-usb', '--no-serial', ...extraArgs];
  for (const s of sims) args.push('--sim', s);
  const env = { ...process.env };
  delete env.FLASH_STATION_TOKEN;
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env });
  const output: string[] = [];
  child.stderr?.on('data', (d: Buffer) => output.push(String(d)));
  const lines = createInterface({ input: child.stdout });
  const found = await new Promise<{ wsUrl: string; uiUrl: string }>((resolvePromise, reject) => {
    let wsUrl = '';
    const timer = setTimeout(() => reject(new Error(`station did not start in 30 s:\n${output.join('')}`)), 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`station exited with ${code}:\n${output.join('')}`));
    });
    lines.on('line', (line) => {
      output.push(`${line}\n`);
      if (line.startsWith('listening ')) wsUrl = line.slice('listening '.length).trim();
      if (line.startsWith('ui ')) {
        clearTimeout(timer);
        resolvePromise({ wsUrl, uiUrl: line.slice(3).trim() });
      }
    });
  });
  child.removeAllListeners('exit');
  const stopped = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    ...found,
    port: Number(new URL(found.uiUrl).port),
    output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await stopped;
      clearTimeout(timer);
    },
  };
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/** `extraArgs` go to Chromium (e.g. `--ignore-certificate-errors-spki-list=…` to trust one TLS key). */
export async function openBrowser(extraArgs: string[] = []): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'fs-e2e-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', ...extraArgs],
    viewport: { width: 1400, height: 1000 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A raw image of `size` bytes that does not compress to nothing (fills would make the transfer instant). */
export function writeImage(dir: string, name: string, size: number): string {
  const bytes = new Uint8Array(size);
  let x = 0x12345678;
  for (let i = 0; i < size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
    bytes[i + 1] = (x >>> 8) & 0xff;
    bytes[i + 2] = (x >>> 16) & 0xff;
    bytes[i + 3] = (x >>> 24) & 0xff;
  }
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Clears the device selection: unpresses every tile's Select button (a partition chip is pressed too, so only tiles). */
export async function deselectDevices(page: Page): Promise<void> {
  const pressed = page.getByRole('article').getByRole('button', { pressed: true });
  while ((await pressed.count()) > 0) await pressed.first().click();
}
