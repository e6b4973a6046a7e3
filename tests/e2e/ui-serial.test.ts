// Serial boards in the web UI (headless Chromium, a real `flash-station serve`): an STM32 takes an Address (a HEX file
// shown and counted by its data bytes, the job card naming 0x08000000), and an ESP32 without a partition table is
// offered an address first, then, once a plan wrote its table, lists the table's labels.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import { writeIntelHex } from '../../src/images/intel-hex.js';
import { DEFAULT_PARTITIONS, espApp, partitionTable } from '../helpers/esp-images.js';
import { deselectDevices, ensureBuilt, openBrowser, screenshot, startStation, tempDir, type Browser, type RunningStation } from './harness.js';

const SIMS = ['esp:UIESP1?chip=esp32&flash=4M', 'stm32:UISTM1?chip=f103&flash=128K'];
let station: RunningStation;
let browser: Browser;
let page: Page;
let dataDir: string;
let files: string;

function jobCard(deviceId: string): Locator {
  return page.getByRole('region', { name: new RegExp(`^Job .* on device ${deviceId}$`) }).first();
}

async function select(deviceId: string): Promise<void> {
  await deselectDevices(page);
  await page.getByRole('article', { name: `Device ${deviceId}` }).getByRole('button', { name: new RegExp(`Select ${deviceId}`) }).click();
}

async function completed(card: Locator): Promise<void> {
  await expect.poll(() => card.getByText('Completed', { exact: true }).count(), { timeout: 60_000 }).toBe(1);
  expect(Number(await card.getByRole('progressbar').getAttribute('aria-valuenow'))).toBe(100);
}

beforeAll(async () => {
  ensureBuilt();
  dataDir = tempDir('fs-e2e-serial-data-');
  files = tempDir('fs-e2e-serial-img-');
  station = await startStation(dataDir, SIMS);
  browser = await openBrowser();
  page = browser.page;
  await page.goto(station.uiUrl);
});

afterAll(async () => {
  await browser?.close();
  await station?.stop();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(files, { recursive: true, force: true });
});

describe('serial boards in the web UI', () => {
  it('lists both boards, ready', async () => {
    for (const id of ['UIESP1', 'UISTM1']) {
      await expect.poll(() => page.getByRole('article', { name: `Device ${id}` }).getByText('Ready').count(), { timeout: 30_000 }).toBe(1);
    }
  });

  it('flashes an Intel HEX file onto the STM32 at an address, counted by its data bytes', async () => {
    const data = Uint8Array.from({ length: 10 * 1024 }, (_, i) => (i * 31 + 7) & 0xff);
    const hex = join(files, 'fw.hex');
    writeFileSync(hex, writeIntelHex([{ address: 0x0800_0000, bytes: data }]));
    await select('UISTM1');
    expect(await page.getByLabel('Partition').count()).toBe(0);
    await page.getByLabel('Image').fill(hex);
    await page.getByLabel('Address').fill('0x08000000');
    await page.getByRole('button', { name: 'Flash', exact: true }).click();
    const card = jobCard('UISTM1');
    await card.waitFor({ timeout: 10_000 });
    await completed(card);
    const text = (await card.textContent()) ?? '';
    expect(text).toContain('0x08000000 ← fw.hex');
    expect(text).toMatch(/10\.0 KiB \/ 10\.0 KiB/); // the data, not the 28 KiB of text
    expect(readFileSync(join(dataDir, 'sim', 'UISTM1', 'flash.bin')).subarray(0, data.length).equals(Buffer.from(data))).toBe(true);
    await screenshot(page, 'e2e-serial-01-stm32-hex');
  });

  it('offers a blank ESP32 an address first, and its partition labels once a plan wrote the table', async () => {
    await select('UIESP1');
    const writeTo = page.getByLabel('Write to');
    expect(await writeTo.inputValue()).toBe('address');
    const build = join(files, 'build');
    mkdirSync(join(build, 'bootloader'), { recursive: true });
    writeFileSync(join(build, 'bootloader', 'bootloader.bin'), espApp(20 * 1024, 0, 3));
    writeFileSync(join(build, 'partitions.bin'), partitionTable(DEFAULT_PARTITIONS));
    writeFileSync(join(build, 'app.bin'), espApp(64 * 1024, 0, 5));
    writeFileSync(join(build, 'flasher_args.json'), JSON.stringify({
      flash_files: { '0x1000': 'bootloader/bootloader.bin', '0x8000': 'partitions.bin', '0x10000': 'app.bin' },
      extra_esptool_args: { chip: 'esp32', after: 'hard_reset' },
    }));
    await page.getByLabel('Plan file').fill(join(build, 'flasher_args.json'));
    await page.getByRole('button', { name: 'Flash', exact: true }).click();
    const card = jobCard('UIESP1');
    await card.waitFor({ timeout: 10_000 });
    await completed(card);
    await page.getByLabel('Plan file').fill('');
    await select('UIESP1');
    await expect.poll(() => writeTo.inputValue(), { timeout: 10_000 }).toBe('partition');
    const chips = page.getByRole('list', { name: 'Names the selected devices list' }).getByRole('button');
    expect(await chips.allTextContents()).toEqual(['factory 1.00 MiB', 'nvs 24.0 KiB', 'phy_init 4.00 KiB']);
    await screenshot(page, 'e2e-serial-02-esp-partitions');
  });
});
