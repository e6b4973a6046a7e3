// The station-wide limit has one truth: set_limits without a job (WS and POST /api/limits) changes the setting that
// GET /api/settings and the Settings page show, and it is kept across a restart; a per-job limit leaves it alone.
import { afterEach, describe, expect, it } from 'vitest';
import { createStation } from '../../../src/core/station.js';
import { harness, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('station-wide limit', () => {
  it('set_limits without a job is the stationBytesPerSecond setting', async () => {
    h = await harness(['L1']);
    expect(h.station.getSettings().stationBytesPerSecond).toBeNull();
    h.station.setLimits(undefined, 5 * 1024 * 1024);
    expect(h.station.getSettings().stationBytesPerSecond).toBe(5 * 1024 * 1024);
    expect(() => h!.station.setLimits(undefined, 0)).toThrow(/bytesPerSecond/);
    expect(h.station.getSettings().stationBytesPerSecond).toBe(5 * 1024 * 1024);

    // A per-job limit is not a station setting.
    const img = h.image('l.img', 8 << 20);
    const r = await h.station.startFlash({ deviceId: 'L1', partition: 'boot', image: img.path });
    h.station.setLimits(r.jobId, 1024 * 1024);
    expect(h.station.getSettings().stationBytesPerSecond).toBe(5 * 1024 * 1024);
    h.station.cancel(r.jobId);
    await h.waitFor('flash_failed', (m) => m.jobId === r.jobId);

    // Kept like any setting: a restarted station starts with it.
    const dataDir = h.station.dataDir;
    await h.station.close();
    const again = await createStation({ dataDir, providers: [] });
    try {
      expect(again.getSettings().stationBytesPerSecond).toBe(5 * 1024 * 1024);
      again.setLimits(undefined, null);
      expect(again.getSettings().stationBytesPerSecond).toBeNull();
    } finally {
      await again.close();
    }
  });
});
