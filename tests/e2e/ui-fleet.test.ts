// The fleet view in headless Chromium, as a line lead sees it: two real `serve --mqtt` stations on one mosquitto and
// `flash-station fleet`; stations as rows with devices, live jobs, online/offline, counters and last seen; a flash
// started, paused, resumed and cancelled from the page with the station's token, each result shown; a wrong token
// refused on the page; a station killed with SIGKILL goes Offline (the Last Will); the station's own status bar shows
// its MQTT link.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type Broker } from '../integration/fleet/broker.js';
import { ensureBuilt, openBrowser, root, screenshot, startStation, tempDir, writeImage, type Browser, type RunningStation } from './harness.js';

let broker: Broker;
let lineA: RunningStation;
let lineB: RunningStation;
let fleet: ChildProcess;
let fleetUrl: string;
let browser: Browser;
let page: Page;
let work: string;
let image: string;
let tokenA: string;

async function startFleetView(url: string): Promise<{ child: ChildProcess; uiUrl: string }> {
  const child = spawn(process.execPath, [join(root, 'bin/flash-station.cjs'), 'fleet', '--mqtt', url, '--port', '0'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const lines = createInterface({ input: child.stdout });
  const uiUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fleet view did not start: ${err}`)), 30_000);
    lines.on('line', (line) => {
      if (line.startsWith('ui ')) {
        clearTimeout(timer);
        resolve(line.slice(3).trim());
      }
    });
  });
  return { child, uiUrl };
}

const row = (stationId: string): Locator => page.getByRole('row', { name: `Station ${stationId}` });
const resultOf = (stationId: string): Locator => row(stationId).getByRole('status');

beforeAll(async () => {
  ensureBuilt();
  // The fleet page is the renderer's second entry: a dist built before it existed lacks it.
  if (!existsSync(join(root, 'dist/renderer/fleet.html'))) {
    const r = spawnSync(process.execPath, [join(root, 'scripts/build.mjs')], { cwd: root, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`build failed:\n${r.stdout}\n${r.stderr}`);
  }
  work = tempDir('fs-e2e-fleet-');
  image = writeImage(work, 'boot.img', 16 * 1024 * 1024);
  broker = await startBroker(work);
  const mqtt = (id: string): string[] => ['--mqtt', broker.url, '--station-id', id, '--mqtt-commands'];
  // A1 is slow enough (2 MiB/s, 16 MiB) to pause, resume and cancel from the page.
  lineA = await startStation(join(work, 'a'), ['fastboot:A1?partitions=boot:64M&speed=2M&max-download=1M', 'fastboot:A2?partitions=boot:64M'], 0, mqtt('LINE-A'));
  lineB = await startStation(join(work, 'b'), ['fastboot:B1?partitions=boot:64M'], 0, mqtt('LINE-B'));
  tokenA = readFileSync(join(work, 'a', 'token'), 'utf8').trim();
  const view = await startFleetView(broker.url);
  fleet = view.child;
  fleetUrl = view.uiUrl;
  browser = await openBrowser();
  page = browser.page;
  await page.goto(fleetUrl);
});

afterAll(async () => {
  await browser?.close();
  fleet?.kill('SIGTERM');
  await lineA?.stop();
  await lineB?.stop();
  await broker?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('fleet view page', () => {
  it('shows each station as a row with its devices, Online, and counters', async () => {
    await expect.poll(() => page.getByRole('status').first().textContent(), { timeout: 15_000 }).toMatch(/^2 stations, 2 online, 0 live jobs$/);
    await row('LINE-A').getByLabel('Device A2').waitFor({ timeout: 10_000 });
    await row('LINE-B').getByLabel('Device B1').waitFor({ timeout: 10_000 });
    for (const id of ['LINE-A', 'LINE-B']) {
      await expect.poll(() => row(id).textContent()).toMatch(/Online/);
      await expect.poll(() => row(id).textContent()).toMatch(/0 done · 0 failed · 0 cancelled/);
    }
    await expect.poll(() => row('LINE-A').getByRole('listitem').filter({ hasText: /^A\d/ }).count()).toBe(2);
    await screenshot(page, 'fleet-two-stations');
  });

  it('refuses a wrong station token on the page, and says so', async () => {
    const r = row('LINE-B');
    await r.getByLabel('Station token').fill('not-the-token');
    await r.getByLabel('Partition').fill('boot');
    await r.getByLabel('Image').fill(image);
    await r.getByRole('button', { name: 'Flash', exact: true }).click();
    await expect.poll(() => resultOf('LINE-B').textContent(), { timeout: 15_000 }).toMatch(/start_flash: unauthorized/);
    // What was typed outlives the page's refresh every second (fix it, flash again: no retyping).
    await page.getByRole('heading', { name: /fleet/ }).click();
    await page.waitForTimeout(2500);
    expect(await r.getByLabel('Station token').inputValue()).toBe('not-the-token');
    expect(await r.getByLabel('Partition').inputValue()).toBe('boot');
    expect(await r.getByLabel('Image').inputValue()).toBe(image);
    await expect.poll(() => lineB.output.join('')).not.toMatch(/flash_started/);
  });

  it('starts, pauses, resumes and cancels a flash with the station token, showing each result and the live job', async () => {
    const r = row('LINE-A');
    await r.getByLabel('Station token').fill(tokenA);
    await r.getByLabel('Device', { exact: true }).selectOption('A1');
    await r.getByLabel('Partition').fill('boot');
    await r.getByLabel('Image').fill(image);
    await r.getByRole('button', { name: 'Flash', exact: true }).click();
    await expect.poll(() => resultOf('LINE-A').textContent(), { timeout: 15_000 }).toMatch(/start_flash: ok \(job /);
    const bar = r.getByRole('progressbar');
    await bar.waitFor({ timeout: 10_000 });
    await expect.poll(async () => Number(await bar.getAttribute('aria-valuenow')), { timeout: 15_000 }).toBeGreaterThan(0);
    await expect.poll(() => page.getByRole('status').first().textContent()).toMatch(/1 live jobs/);
    await screenshot(page, 'fleet-live-job');

    await r.getByRole('button', { name: 'Pause' }).click();
    await expect.poll(() => resultOf('LINE-A').textContent(), { timeout: 15_000 }).toMatch(/pause_flash: ok/);
    await expect.poll(() => r.textContent(), { timeout: 10_000 }).toMatch(/Paused/);
    await r.getByRole('button', { name: 'Resume' }).click();
    await expect.poll(() => resultOf('LINE-A').textContent(), { timeout: 15_000 }).toMatch(/resume_flash: ok/);
    await expect.poll(() => r.textContent(), { timeout: 10_000 }).toMatch(/Running/);
    await r.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => resultOf('LINE-A').textContent(), { timeout: 15_000 }).toMatch(/cancel_flash: ok/);
    await expect.poll(() => r.textContent(), { timeout: 15_000 }).toMatch(/0 done · 0 failed · 1 cancelled/);
    await expect.poll(() => r.getByRole('progressbar').count()).toBe(0);
  });

  it('shows the MQTT link in the station\'s own status bar', async () => {
    const stationPage = await browser.context.newPage();
    await stationPage.goto(lineA.uiUrl);
    await expect.poll(() => stationPage.getByRole('status').filter({ hasText: /^MQTT / }).first().textContent(), { timeout: 15_000 }).toBe('MQTT connected');
    await stationPage.close();
  });

  it('shows a station killed with SIGKILL as Offline with its last seen time (the Last Will)', async () => {
    lineB.child.kill('SIGKILL');
    await expect.poll(() => row('LINE-B').textContent(), { timeout: 60_000 }).toMatch(/Offline/);
    await expect.poll(() => row('LINE-B').textContent()).toMatch(/last seen \d+ s ago/);
    expect(await row('LINE-A').textContent()).not.toMatch(/last seen/); // only a station gone silent has one
    await expect.poll(() => page.getByRole('status').first().textContent()).toMatch(/^2 stations, 1 online/);
    await screenshot(page, 'fleet-one-offline');
  });
});
