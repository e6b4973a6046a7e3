// The web UI over HTTPS and WSS (contract §8): `serve --tls-cert --tls-key` with a certificate from the commands of
// docs/security.md, and Chromium trusting exactly that certificate's key. The page loads over https://, its socket
// connects over wss:// to the origin it came from, and a flash runs to Completed.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { makeDocumentedCertificates } from '../helpers/tls-certs.js';
import { deselectDevices, ensureBuilt, openBrowser, startStation, tempDir, writeImage, type Browser, type RunningStation } from './harness.js';

let station: RunningStation;
let browser: Browser;
let page: Page;
let dir: string;
const sockets: string[] = [];

/** base64 SHA-256 of the certificate's public key, as Chromium's --ignore-certificate-errors-spki-list wants it. */
function spkiHash(certFile: string): string {
  return execFileSync('sh', ['-c', 'openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64', 'sh', certFile], { encoding: 'utf8' }).trim();
}

beforeAll(async () => {
  ensureBuilt();
  dir = tempDir('fs-e2e-tls-');
  const certs = makeDocumentedCertificates(dir);
  station = await startStation(`${dir}/data`, ['fastboot:TLSUI001?partitions=boot:16M&speed=16M'], 0, ['--tls-cert', certs.certFile, '--tls-key', certs.keyFile]);
  browser = await openBrowser([`--ignore-certificate-errors-spki-list=${spkiHash(certs.certFile)}`]);
  page = browser.page;
  page.on('websocket', (ws) => sockets.push(ws.url()));
  await page.goto(station.uiUrl);
});

afterAll(async () => {
  await browser?.close();
  await station?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('web UI over TLS', () => {
  it('the station prints wss:// and https:// lines, and the page loads over https://', () => {
    expect(station.wsUrl).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/flash-progress$/);
    expect(station.uiUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/\?token=/);
    expect(page.url()).toMatch(/^https:\/\/127\.0\.0\.1:\d+\//);
  });

  it('connects its socket over wss:// and lists the device', async () => {
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Connected' }).count(), { timeout: 15_000 }).toBe(1);
    await expect.poll(() => page.getByRole('article', { name: 'Device TLSUI001' }).count()).toBe(1);
    expect(sockets.length).toBeGreaterThan(0);
    for (const url of sockets) expect(url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/flash-progress/);
  });

  it('flashes through the wss:// socket to Completed', async () => {
    const image = writeImage(dir, 'boot.img', 1024 * 1024);
    await deselectDevices(page);
    await page.getByRole('article', { name: 'Device TLSUI001' }).getByRole('button', { name: /Select TLSUI001/ }).click();
    await page.getByLabel('Image').fill(image);
    await page.getByLabel('Partition').fill('boot');
    await page.getByRole('button', { name: 'Flash', exact: true }).click();
    const card = page.getByRole('region', { name: /^Job .* on device TLSUI001$/ }).first();
    await card.waitFor({ timeout: 15_000 });
    await expect.poll(() => card.getByText('Completed', { exact: true }).count(), { timeout: 30_000 }).toBe(1);
    expect(Number(await card.getByRole('progressbar').getAttribute('aria-valuenow'))).toBe(100);
  });

  it('is refused by a browser that does not trust the certificate', async () => {
    const stranger = await openBrowser();
    try {
      await expect(stranger.page.goto(station.uiUrl)).rejects.toThrow(/ERR_CERT/);
    } finally {
      await stranger.close();
    }
  });
});
