// The desktop app through Playwright's Electron driver: the window opens on the station's UI, its socket connects and
// a simulated device is listed. Skipped where no Electron binary is installed (its download is blocked here).
import { existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { afterAll, describe, expect, it } from 'vitest';
import { _electron } from 'playwright-core';
import { ensureBuilt, root, screenshot, tempDir } from './harness.js';

function electronBinary(): string | null {
  try {
    const path = createRequire(import.meta.url)('electron') as unknown;
    return typeof path === 'string' && existsSync(path) ? path : null;
  } catch {
    return null;
  }
}

const binary = electronBinary();
const dirs: string[] = [];

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('desktop app', () => {
  it.skipIf(!binary)('opens a window whose socket connects and lists a simulated device (skipped: no Electron binary — its download is blocked here)', async () => {
    ensureBuilt();
    const dataDir = tempDir('fs-e2e-electron-');
    dirs.push(dataDir);
    const app = await _electron.launch({
      executablePath: binary ?? undefined,
      args: [root, '--no-sandbox', '--port', '0', '--data-dir', dataDir, '--no-usb', '--no-serial', '--sim', 'fastboot:ELEC0001?partitions=boot:64M'],
      env: { ...process.env, ELECTRON_ENABLE_LOGGING: '1' },
    });
    try {
      const page = await app.firstWindow();
      await expect.poll(() => page.getByRole('status').filter({ hasText: 'Connected' }).count(), { timeout: 30_000 }).toBe(1);
      await expect.poll(() => page.getByRole('article', { name: 'Device ELEC0001' }).count(), { timeout: 30_000 }).toBe(1);
      // The preload gave the page its token and nothing of Node.
      expect(await page.evaluate(() => typeof (window as unknown as { flashStation?: { token: string } }).flashStation?.token)).toBe('string');
      expect(await page.evaluate(() => typeof (globalThis as { require?: unknown }).require)).toBe('undefined');
      await screenshot(page, 'e2e-electron');
    } finally {
      await app.close();
    }
  });
});
