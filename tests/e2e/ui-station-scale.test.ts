// The station-scale UI in headless Chromium against `flash-station serve --sim …`, as a technician sees it: tiles that
// say Done — unplug / Failed and why with per-port counters, a New job action per tile, job cards that stay put when
// paused, a batch bar that counts right and survives a reload, finished cards with average speed and duration, a
// header that fits a narrow window, and words a technician can act on without the token.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { deselectDevices, ensureBuilt, openBrowser, screenshot, startStation, tempDir, writeImage, type Browser, type RunningStation } from './harness.js';

// Three slow enough to pause (2 MiB/s, 12 MiB), one that refuses `flash:`.
const SIMS = [
  ...['STN01', 'STN02', 'STN03'].map((id) => `fastboot:${id}?partitions=boot:64M&speed=2M&max-download=1M`),
  'fastboot:BAD1?partitions=boot:64M&fail-command=flash',
];
const IDS = ['BAD1', 'STN01', 'STN02', 'STN03'];

let station: RunningStation;
let browser: Browser;
let page: Page;
let dataDir: string;
let imageDir: string;
let image: string;

const cardLabels = (): Promise<string[]> => page.getByRole('region', { name: /^Job / }).evaluateAll((els) => els.map((e) => e.getAttribute('aria-label') ?? ''));
const batchText = async (): Promise<string> => {
  const item = page.getByRole('list', { name: 'Batches' }).getByRole('listitem').first();
  return (await item.count()) ? ((await item.textContent()) ?? '') : '';
};
const tileStatus = (id: string) => page.getByRole('article', { name: `Device ${id}` }).locator('.tile-status');

beforeAll(async () => {
  ensureBuilt();
  dataDir = tempDir('fs-e2e-scale-data-');
  imageDir = tempDir('fs-e2e-scale-img-');
  image = writeImage(imageDir, 'boot.img', 12 * 1024 * 1024);
  station = await startStation(dataDir, SIMS);
  browser = await openBrowser();
  page = browser.page;
  await page.goto(station.uiUrl);
  for (const id of IDS) await page.getByRole('article', { name: `Device ${id}` }).waitFor({ timeout: 15_000 });
});

afterAll(async () => {
  await browser?.close();
  await station?.stop();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(imageDir, { recursive: true, force: true });
});

describe('station at scale in the UI', () => {
  it('New job on a tile makes that device the only target and takes focus to the form', async () => {
    await page.setViewportSize({ width: 600, height: 800 });
    await page.getByRole('article', { name: 'Device STN02' }).getByRole('button', { name: 'New job for STN02' }).click();
    await expect.poll(() => page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.name ?? '')).toBe('image');
    expect(await page.locator('.targets').textContent()).toBe('Target: STN02');
    // The focused field is on screen even though the form sits below the grid here.
    const box = await page.getByLabel('Image').boundingBox();
    expect(box && box.y >= 0 && box.y + box.height <= 800).toBe(true);
    await screenshot(page, 'e2e-scale-01-new-job-600');
    await page.setViewportSize({ width: 1400, height: 1000 });
  });

  it('counts a running batch right, keeps cards in place when one is paused, and keeps the bar over a reload', async () => {
    await deselectDevices(page);
    await page.getByRole('button', { name: 'Select all' }).click();
    await page.getByLabel('Image').fill(image);
    await page.getByLabel('Partition').fill('boot');
    await page.getByRole('button', { name: 'Flash', exact: true }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: '4 jobs' }).count(), { timeout: 10_000 }).toBe(1);
    // While the three good ones write, the bar says so (it used to say "0 done, 4 waiting" until the end).
    await expect.poll(batchText, { timeout: 15_000 }).toMatch(/Batch of 4: 0 done, (1 failed, )?[23] writing$/);
    await expect.poll(() => page.getByRole('region', { name: /on device STN0\d$/ }).filter({ hasText: 'Running' }).count(), { timeout: 15_000 }).toBe(3);
    await expect.poll(async () => (await tileStatus('STN01').textContent()) ?? '', { timeout: 10_000 }).toMatch(/^Flashing · \d+%/);

    const order = await cardLabels();
    const first = page.getByRole('region', { name: /^Job / }).filter({ hasText: 'Running' }).first();
    const firstLabel = await first.getAttribute('aria-label');
    await first.getByRole('button', { name: 'Pause' }).click();
    const paused = page.getByRole('region', { name: firstLabel ?? '' });
    await expect.poll(() => paused.getByText('Paused', { exact: true }).count(), { timeout: 15_000 }).toBe(1);
    expect(await cardLabels()).toEqual(order);
    await expect.poll(batchText, { timeout: 10_000 }).toMatch(/1 paused/);
    await screenshot(page, 'e2e-scale-02-paused-in-place');

    await page.reload();
    await expect.poll(batchText, { timeout: 15_000 }).toMatch(/Batch of 4: .*1 paused/);
    await expect.poll(() => page.getByRole('region', { name: firstLabel ?? '' }).getByText('Paused', { exact: true }).count(), { timeout: 15_000 }).toBe(1);
    await page.getByRole('region', { name: firstLabel ?? '' }).getByRole('button', { name: 'Resume' }).click();
    await expect.poll(batchText, { timeout: 90_000 }).toMatch(/^Batch of 4: 3 done, 1 failed/);
  });

  it('tiles say Done — unplug and Failed with the reason, with per-port counters', async () => {
    await expect.poll(async () => (await tileStatus('STN01').textContent()) ?? '', { timeout: 15_000 }).toContain('Done — unplug');
    const bad = (await tileStatus('BAD1').textContent()) ?? '';
    expect(bad).toMatch(/Failed/);
    expect(bad).toMatch(/flash/i);
    expect(await page.getByRole('article', { name: 'Device STN01' }).locator('.tile-counters').textContent()).toMatch(/1 succeeded, 0 failed/);
    expect(await page.getByRole('article', { name: 'Device BAD1' }).getAttribute('data-port')).toBe('bad');
    // Finished cards show the average speed and how long it took, and a failure leads with words, not a code.
    const done = page.getByRole('region', { name: /on device STN01$/ }).first();
    expect(await done.locator('.job-stats').textContent()).toMatch(/Avg speed[\d.]+ [KM]iB\/sTook\d+ s/);
    const error = (await page.getByRole('region', { name: /on device BAD1$/ }).first().locator('.job-error').textContent()) ?? '';
    expect(error).not.toMatch(/^device_rejected/);
    await screenshot(page, 'e2e-scale-03-done-failed');
  });

  it('keeps the header, with the connection status, inside a narrow window', async () => {
    for (const width of [600, 420]) {
      await page.setViewportSize({ width, height: 800 });
      await page.waitForTimeout(200);
      const [scroll, client] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
      expect(scroll).toBeLessThanOrEqual(client);
      const status = await page.locator('.head-status').boundingBox();
      expect(status && status.x >= 0 && status.x + status.width <= width).toBe(true);
      await screenshot(page, `e2e-scale-04-header-${width}`);
    }
    for (const tab of ['Queue', 'History', 'Settings']) {
      await page.getByRole('link', { name: new RegExp(`^${tab}`) }).click();
      await page.waitForTimeout(300);
      const [scroll, client] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
      expect(scroll, tab).toBeLessThanOrEqual(client);
    }
    await page.getByRole('link', { name: 'Station' }).click();
    await page.setViewportSize({ width: 1400, height: 1000 });
  });

  it('tells a page without the token what to do in its own terms', async () => {
    const other = await browser.context.newPage();
    try {
      await other.goto(station.uiUrl.replace(/\?token=[^#]*/, ''));
      await expect.poll(() => other.getByRole('link', { name: 'add the token' }).count(), { timeout: 15_000 }).toBe(1);
      await other.getByRole('article', { name: 'Device STN01' }).getByRole('button', { name: /Select STN01/ }).click();
      await other.getByLabel('Image').fill(image);
      await other.getByLabel('Partition').fill('boot');
      await other.getByRole('button', { name: 'Flash', exact: true }).click();
      const alert = other.locator('form').getByRole('alert');
      await expect.poll(async () => ((await alert.count()) ? ((await alert.textContent()) ?? '') : ''), { timeout: 10_000 }).toMatch(/Settings/);
      expect(await alert.textContent()).not.toMatch(/Authorization|\?token=/);
      await other.screenshot({ path: 'test-results/e2e-scale-05-no-token.png' });
    } finally {
      await other.close();
    }
  });
});
