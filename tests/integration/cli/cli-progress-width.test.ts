// The CLI progress line on awkward terminals: one that reports 0 columns still gets a bar (0 is no width, not a
// width of 0), and the ETA reads --:-- while nothing moves rather than a confident 0:00.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { formatEta, progressLine } from '../../../src/cli/format.js';
import { captureIo } from '../../helpers/cli-io.js';
import { makeImage, startHarness, type Harness } from '../server/helpers/harness.js';

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h.close(); });

describe('progress line', () => {
  it('shows --:-- for an unknown ETA', () => {
    expect(formatEta(0, 0)).toBe('--:--');
    expect(formatEta(40, 1024)).toBe('0:40');
    const line = progressLine({ progress: 0, bytesTransferred: 0, totalBytes: 1024, transferSpeed: 0, estimatedTimeRemaining: 0, stage: 'Writing boot' }, 120);
    expect(line).toContain('ETA --:--');
  });

  it('draws the bar on a terminal that reports 0 columns', async () => {
    const image = await makeImage(h.dir, 'w.img', 2 * 1024 * 1024);
    const t = captureIo({ tty: true });
    t.stdout.columns = 0;
    const code = await main(['flash', '--url', h.url, '--token', h.token, '--device', 'TEST0001', 'boot', image], t);
    expect(code).toBe(0);
    expect(t.out).toMatch(/\r\[#+\.*\]\s+\d+\.\d%/);
  });
});
