// An image file overwritten while it is flashed fails the job with image_mismatch, instead of completing with the
// new file's hash recorded for bytes the device never got (issue 15, defect 2).
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../../helpers/until.js';
import { harness, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('an image that changes while it is flashed', () => {
  it('fails the job with image_mismatch and records no hash', async () => {
    h = await harness([]);
    await h.provider.plug(h.device('DEV1', { speed: 4 << 20 }));
    const img = h.image('boot.img', 6 << 20);
    const r = await h.station.startFlash({ deviceId: 'DEV1', partition: 'boot', image: img.path });
    await until(() => (h?.station.job(r.jobId)?.bytesTransferred ?? 0) > 1 << 20);
    writeFileSync(img.path, randomBytes(6 << 20)); // same size, new bytes, new mtime
    const failed = await h.waitFor('flash_failed', (m) => m.jobId === r.jobId);
    expect(failed).toMatchObject({ code: 'image_mismatch', error: expect.stringMatching(/changed while it was being flashed \(it was written to\)/) });
    expect(h.station.job(r.jobId)?.sha256).toBeUndefined();
  });

  it('completes as before when the file stays as it was', async () => {
    h = await harness([]);
    await h.provider.plug(h.device('DEV1', { speed: 16 << 20 }));
    const img = h.image('boot.img', 2 << 20);
    const r = await h.station.startFlash({ deviceId: 'DEV1', partition: 'boot', image: img.path });
    await h.waitFor('flash_completed', (m) => m.jobId === r.jobId);
    await until(() => h?.station.job(r.jobId)?.sha256 === img.sha256);
  });
});
