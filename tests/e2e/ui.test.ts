// The web UI in headless Chromium against a real `flash-station serve --sim …`: devices listed, a flash to 100 % and
// "Completed", pause/resume/cancel, a failure with its error, a station restart the page rides through, and the token
// shown and regenerated from Settings.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import { deselectDevices, ensureBuilt, openBrowser, screenshot, startStation, tempDir, writeImage, type Browser, type RunningStation } from './harness.js';

// SIM0001 flashes quickly; SIMSLOW is slow enough to pause and cancel (small pieces, so a cancel lands within a
// second); SIMFAIL refuses `flash:`.
const SIMS = [
  'fastboot:SIM0001?partitions=boot:64M,system:256M&speed=8M',
  'fastboot:SIMSLOW?partitions=boot:64M,system:256M&speed=2M&max-download=1M',
  'fastboot:SIMFAIL?partitions=boot:64M&fail-command=flash',
];

let station: RunningStation;
let browser: Browser;
let page: Page;
let dataDir: string;
let imageDir: string;
let image: string;
let bigImage: string;

/** The card of the newest job of a device (its accessible name is `Job … on device ID`). */
function jobCard(deviceId: string): Locator {
  return page.getByRole('region', { name: new RegExp(`^Job .* on device ${deviceId}$`) }).first();
}

async function flash(deviceId: string, imagePath: string, partition: string): Promise<Locator> {
  const tile = page.getByRole('article', { name: `Device ${deviceId}` });
  // Only this device as target.
  await deselectDevices(page);
  await tile.getByRole('button', { name: new RegExp(`Select ${deviceId}`) }).click();
  await page.getByLabel('Image').fill(imagePath);
  await page.getByLabel('Partition').fill(partition);
  await page.getByRole('button', { name: 'Flash', exact: true }).click();
  await expect.poll(() => page.getByRole('status').filter({ hasText: /Job .* (started|queued)/ }).count(), { timeout: 10_000 }).toBeGreaterThan(0);
  const card = jobCard(deviceId);
  await card.waitFor({ timeout: 10_000 });
  return card;
}

beforeAll(async () => {
  ensureBuilt();
  dataDir = tempDir('fs-e2e-data-');
  imageDir = tempDir('fs-e2e-img-');
  image = writeImage(imageDir, 'boot.img', 4 * 1024 * 1024);
  bigImage = writeImage(imageDir, 'system.img', 48 * 1024 * 1024);
  station = await startStation(dataDir, SIMS);
  browser = await openBrowser();
  page = browser.page;
  await page.goto(station.uiUrl);
});

afterAll(async () => {
  await browser?.close();
  await station?.stop();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(imageDir, { recursive: true, force: true });
});

describe('web UI against a simulated station', () => {
  it('lists the simulated devices and keeps the token out of the address bar', async () => {
    for (const id of ['SIM0001', 'SIMSLOW', 'SIMFAIL']) await expect.poll(() => page.getByRole('article', { name: `Device ${id}` }).count()).toBe(1);
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Connected' }).count()).toBe(1);
    expect(page.url()).not.toContain('token=');
    expect(await page.evaluate(() => sessionStorage.getItem('flash-station-token'))).toMatch(/.{16,}/);
    await screenshot(page, 'e2e-01-devices');
  });

  it('flashes an image: the progressbar reaches 100 and the job says Completed', async () => {
    const card = await flash('SIM0001', image, 'boot');
    const bar = card.getByRole('progressbar');
    await expect.poll(async () => Number(await bar.getAttribute('aria-valuenow')), { timeout: 30_000 }).toBe(100);
    await expect.poll(() => card.getByText('Completed', { exact: true }).count(), { timeout: 30_000 }).toBe(1);
    expect(Number(await bar.getAttribute('aria-valuemin'))).toBe(0);
    expect(Number(await bar.getAttribute('aria-valuemax'))).toBe(100);
    await screenshot(page, 'e2e-02-completed');
  });

  it('pauses, resumes and cancels a running job', async () => {
    const card = await flash('SIMSLOW', bigImage, 'system');
    await expect.poll(() => card.getByText('Running', { exact: true }).count(), { timeout: 20_000 }).toBe(1);
    await expect.poll(async () => Number(await card.getByRole('progressbar').getAttribute('aria-valuenow')), { timeout: 20_000 }).toBeGreaterThan(0);
    await card.getByRole('button', { name: 'Pause' }).click();
    await expect.poll(() => card.getByText('Paused', { exact: true }).count(), { timeout: 20_000 }).toBe(1);
    // The slice in flight when Pause was pressed still lands — one 1 MiB slice of 48 MiB, at most 3 points of the rounded
    // bar, and at 2 MiB/s it takes half a second or (on a busy machine) more. Wait until the bar stands still, then it
    // must stay exactly there.
    const value = async (): Promise<number> => Number(await card.getByRole('progressbar').getAttribute('aria-valuenow'));
    const atPause = await value();
    let last = -1;
    await expect.poll(async () => {
      const v = await value();
      const still = v === last;
      last = v;
      return still;
    }, { timeout: 30_000, interval: 1500 }).toBe(true);
    const held = await value();
    expect(held).toBeLessThanOrEqual(atPause + 3);
    await page.waitForTimeout(1500);
    expect(await value()).toBe(held);
    await screenshot(page, 'e2e-03-paused');
    await card.getByRole('button', { name: 'Resume' }).click();
    await expect.poll(() => card.getByText('Running', { exact: true }).count(), { timeout: 20_000 }).toBe(1);
    await card.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => card.getByText('Cancelled', { exact: true }).count(), { timeout: 30_000 }).toBe(1);
    expect(await card.getByRole('button', { name: 'Pause' }).count()).toBe(0);
    await screenshot(page, 'e2e-04-cancelled');
  });

  it('says why the station refuses a job before it starts', async () => {
    await deselectDevices(page);
    await page.getByRole('article', { name: 'Device SIM0001' }).getByRole('button', { name: /Select SIM0001/ }).click();
    await page.getByLabel('Image').fill('/nonexistent/boot.img');
    await page.getByLabel('Partition').fill('boot');
    await page.getByRole('button', { name: 'Flash', exact: true }).click();
    const alert = page.locator('form').getByRole('alert');
    await expect.poll(async () => ((await alert.count()) ? ((await alert.textContent()) ?? '') : ''), { timeout: 10_000 }).toMatch(/image_not_found/);
  });

  it('shows a failed flash with its error', async () => {
    const card = await flash('SIMFAIL', image, 'boot');
    await expect.poll(() => card.getByText('Failed', { exact: true }).count(), { timeout: 30_000 }).toBe(1);
    const alert = card.getByRole('alert');
    await expect.poll(async () => ((await alert.count()) ? ((await alert.first().textContent()) ?? '') : ''), { timeout: 10_000 }).toMatch(/\w{4,}/);
    await screenshot(page, 'e2e-05-failed');
  });

  it('reconnects after the station restarts and shows the same jobs', async () => {
    const before = await page.getByRole('region', { name: /^Job / }).evaluateAll((els) => els.map((e) => `${e.getAttribute('aria-label')}|${e.getAttribute('data-state')}`));
    expect(before.length).toBeGreaterThanOrEqual(3);
    const port = station.port;
    await station.stop();
    await expect.poll(() => page.getByRole('status').filter({ hasText: /Reconnecting/ }).count(), { timeout: 15_000 }).toBe(1);
    await screenshot(page, 'e2e-06-reconnecting');
    station = await startStation(dataDir, SIMS, port);
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Connected' }).count(), { timeout: 20_000 }).toBe(1);
    const after = await page.getByRole('region', { name: /^Job / }).evaluateAll((els) => els.map((e) => `${e.getAttribute('aria-label')}|${e.getAttribute('data-state')}`));
    expect(after.sort()).toEqual(before.sort());
    for (const id of ['SIM0001', 'SIMSLOW', 'SIMFAIL']) await expect.poll(() => page.getByRole('article', { name: `Device ${id}` }).count()).toBe(1);
    // The restarted station still takes jobs from this page (same token, kept in sessionStorage).
    const card = await flash('SIM0001', image, 'boot');
    await expect.poll(() => card.getByText('Completed', { exact: true }).count(), { timeout: 30_000 }).toBe(1);
    await screenshot(page, 'e2e-07-after-restart');
  });

  it('history shows the finished jobs with charts', async () => {
    await page.getByRole('link', { name: 'History' }).click();
    await expect.poll(() => page.getByRole('img', { name: 'Success rate per device' }).count(), { timeout: 10_000 }).toBe(1);
    await expect.poll(() => page.getByRole('row').count(), { timeout: 10_000 }).toBeGreaterThan(3);
    for (const chart of ['Bytes written and average speed over time', 'Success rate per image']) expect(await page.getByRole('img', { name: chart }).count()).toBe(1);
    await screenshot(page, 'e2e-08-history');
    // Filters narrow the table: only failed jobs, then only SIMFAIL's; back to all.
    const body = page.getByRole('row').filter({ has: page.getByRole('cell') });
    const filters = page.getByRole('form', { name: 'History filters' });
    const all = await body.count();
    await filters.getByLabel('Outcome').selectOption('failed');
    await expect.poll(async () => (await body.allTextContents()).every((t) => t.includes('Failed'))).toBe(true);
    expect(await body.count()).toBeLessThan(all);
    await filters.getByLabel('Outcome').selectOption('');
    await filters.getByLabel('Device').selectOption('SIMFAIL');
    await expect.poll(async () => (await body.allTextContents()).every((t) => t.includes('SIMFAIL'))).toBe(true);
    expect(await body.count()).toBeGreaterThan(0);
    await filters.getByLabel('Device').selectOption('');
    await expect.poll(() => body.count()).toBe(all);
    await page.getByRole('link', { name: 'Station' }).click();
  });

  it('is usable by keyboard alone', async () => {
    await deselectDevices(page);
    await page.getByRole('article', { name: 'Device SIM0001' }).getByRole('button', { name: /Select SIM0001/ }).focus();
    await page.keyboard.press('Space');
    await page.getByLabel('Image').focus();
    await page.keyboard.press('Control+A');
    await page.keyboard.type(image);
    await page.keyboard.press('Tab');
    await page.keyboard.press('Control+A');
    await page.keyboard.type('boot');
    // Count before submitting: the new card can appear before a count taken after Enter.
    const before = await page.getByRole('region', { name: /on device SIM0001$/ }).count();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByRole('region', { name: /on device SIM0001$/ }).count(), { timeout: 10_000 }).toBe(before + 1);
    await expect.poll(() => jobCard('SIM0001').getByText('Completed', { exact: true }).count(), { timeout: 30_000 }).toBe(1);
  });

  it('changes station settings and switches to the dark theme', async () => {
    await page.getByRole('link', { name: 'Settings' }).click();
    const slots = page.getByLabel('Slots');
    await slots.fill('3');
    await page.getByRole('button', { name: 'Add rule' }).click();
    await page.getByLabel('Serial pattern').fill('SIM*');
    await page.getByLabel('Rule partition').fill('boot');
    await page.getByLabel('Rule file').fill(image);
    await page.getByRole('checkbox', { name: 'On', exact: true }).uncheck();
    await page.getByRole('button', { name: 'Save settings' }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Saved.' }).count(), { timeout: 10_000 }).toBe(1);
    const token = new URL(station.uiUrl).searchParams.get('token') ?? '';
    const saved = (await (await fetch(`http://127.0.0.1:${station.port}/api/settings`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      slotLimit: number;
      autoFlash: { rules: { match: { serial?: string }; partition?: string; enabled: boolean }[] };
    };
    expect(saved.slotLimit).toBe(3);
    expect(saved.autoFlash.rules).toEqual([expect.objectContaining({ match: { serial: 'SIM*' }, partition: 'boot', enabled: false })]);
    await page.getByRole('button', { name: /Dark theme/ }).click();
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(bg).toBe('rgb(15, 18, 22)');
    await screenshot(page, 'e2e-09-settings-dark');
    await page.getByRole('link', { name: 'Station' }).click();
    await screenshot(page, 'e2e-10-station-dark');
    await page.getByRole('button', { name: /Light theme/ }).click();
  });

  it('pauses, resumes and cancels all jobs from the queue', async () => {
    await flash('SIM0001', bigImage, 'system');
    await flash('SIMSLOW', bigImage, 'system');
    await page.getByRole('link', { name: /^Queue/ }).click();
    const rows = page.getByRole('row').filter({ has: page.getByRole('cell', { name: /SIM0001|SIMSLOW/ }) });
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(2);
    await expect.poll(() => rows.filter({ hasText: 'Running' }).count(), { timeout: 20_000 }).toBe(2);
    await page.getByRole('button', { name: 'Pause all' }).click();
    await expect.poll(() => rows.filter({ hasText: 'Paused' }).count(), { timeout: 20_000 }).toBe(2);
    await screenshot(page, 'e2e-11-queue-paused');
    await page.getByRole('button', { name: 'Resume all' }).click();
    await expect.poll(() => rows.filter({ hasText: 'Running' }).count(), { timeout: 20_000 }).toBe(2);
    await page.getByRole('button', { name: 'Cancel all' }).click();
    await page.getByRole('button', { name: 'Yes, cancel all' }).click();
    await expect.poll(() => rows.count(), { timeout: 30_000 }).toBe(0);
    await page.getByRole('link', { name: 'Station' }).click();
    await expect.poll(() => jobCard('SIMSLOW').getByText('Cancelled', { exact: true }).count(), { timeout: 10_000 }).toBe(1);
  });

  it('flashes several devices at once and sums the batch up', async () => {
    await deselectDevices(page);
    for (const id of ['SIM0001', 'SIMSLOW']) await page.getByRole('article', { name: `Device ${id}` }).getByRole('button', { name: new RegExp(`Select ${id}`) }).click();
    const before = await page.getByRole('region', { name: /^Job / }).count();
    await page.getByLabel('Image').fill(image);
    await page.getByLabel('Partition').fill('boot');
    await page.getByRole('button', { name: 'Flash', exact: true }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: '2 jobs' }).count(), { timeout: 10_000 }).toBe(1);
    await expect.poll(() => page.getByRole('region', { name: /^Job / }).count(), { timeout: 10_000 }).toBe(before + 2);
    const batch = page.getByRole('list', { name: 'Batches' }).getByRole('listitem').first();
    await expect.poll(async () => (await batch.count()) ? await batch.textContent() : '', { timeout: 30_000 }).toMatch(/Batch of 2: 2 done/);
    await screenshot(page, 'e2e-12-batch');
  });

  it('shows the token in Settings and regenerates it only after asking; the page keeps control, the old token stops working', async () => {
    const old = new URL(station.uiUrl).searchParams.get('token') ?? '';
    await page.getByRole('link', { name: 'Settings' }).click();
    const shown = page.getByLabel('Token', { exact: true });
    expect(await shown.textContent()).not.toContain(old);
    await page.getByRole('button', { name: 'Show', exact: true }).click();
    expect(await shown.textContent()).toBe(old);
    await page.getByRole('button', { name: 'Regenerate', exact: true }).click();
    // Nothing changes until the user confirms.
    await page.getByRole('button', { name: 'Keep this token' }).click();
    expect(await shown.textContent()).toBe(old);
    await page.getByRole('button', { name: 'Regenerate', exact: true }).click();
    await screenshot(page, 'e2e-13-regenerate-confirm');
    await page.getByRole('button', { name: 'Yes, regenerate' }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'New token in use' }).count(), { timeout: 10_000 }).toBe(1);
    const fresh = (await shown.textContent()) ?? '';
    expect(fresh).toMatch(/.{16,}/);
    expect(fresh).not.toBe(old);
    // A change (cancelling a job that does not exist): refused as unauthorized with the old token, not with the new one.
    const status = (token: string) =>
      fetch(`http://127.0.0.1:${station.port}/api/jobs/no-such-job/cancel`, { method: 'POST', headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
    expect(await status(old)).toBe(401);
    expect(await status(fresh)).toBe(404);
    await expect.poll(() => page.getByText('this page has the token.').count(), { timeout: 10_000 }).toBe(1);
    // The page still steers the station with the new token.
    await page.getByRole('link', { name: 'Station' }).click();
    const card = await flash('SIM0001', image, 'boot');
    await expect.poll(() => card.getByText('Completed', { exact: true }).count(), { timeout: 30_000 }).toBe(1);
  });
});
