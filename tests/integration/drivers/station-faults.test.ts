// Faults through the whole station (core + simulator provider + our USB transport and driver): an unplug and a FAIL
// on flash each end their job with a message naming what happened; a job on another device completes; the faulty
// device is flashed successfully right after.
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { createStation, type Station } from '../../../src/core/station.js';
import { createSimProvider } from '../../../src/sim/index.js';
import { ended, readPartition, tempDir, writeMixedImage } from './sim-harness.js';
import type { FastbootSimDevice } from '../../../src/sim/fastboot/device.js';

const MiB = 1024 * 1024;
const tmp = tempDir();
afterAll(() => tmp.remove());

async function attached(station: Station, ids: string[]): Promise<void> {
  const end = Date.now() + 10_000;
  while (!ids.every((id) => station.devices().some((d) => d.id === id && d.state === 'idle'))) {
    if (Date.now() > end) throw new Error(`devices ${ids.join(', ')} not ready`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('fastboot faults through the station', () => {
  it.each([
    ['unplug mid-download', 'disconnect-after=1M', /disconnected during a bulk OUT transfer after .*bytes of system, piece \d+ had been sent/],
    ['FAIL on flash', 'fail-command=flash', /refused "flash:system".*piece 1 of system/],
  ])('%s ends the job naming it; another job completes; the device flashes right after', async (_name, fault, message) => {
    const dataDir = join(tmp.path, fault.replace(/\W/g, '_'));
    const provider = createSimProvider<FastbootSimDevice>(
      [`fastboot:BAD1?max-download=1M&partitions=system:16M&reboot-delay=200ms&${fault}`, 'fastboot:GOOD1?max-download=1M&partitions=system:16M&speed=20M'],
      { dataDir },
    );
    const station = await createStation({ dataDir, providers: [provider], settings: { retries: 0 } });
    try {
      const image = join(tmp.path, 'station.img');
      const raw = writeMixedImage(image, 4 * MiB, 41);
      await attached(station, ['BAD1', 'GOOD1']);
      const bad = await station.startFlash({ deviceId: 'BAD1', partition: 'system', image });
      const good = await station.startFlash({ deviceId: 'GOOD1', partition: 'system', image });
      const [badEnd, goodEnd] = await Promise.all([ended(station, bad.jobId, 40_000), ended(station, good.jobId, 40_000)]);
      expect(goodEnd.type).toBe('flash_completed');
      expect(badEnd.type).toBe('flash_failed');
      expect(badEnd.type === 'flash_failed' ? badEnd.error : '').toMatch(message);
      await attached(station, ['BAD1']);
      const again = await station.startFlash({ deviceId: 'BAD1', partition: 'system', image });
      expect((await ended(station, again.jobId, 40_000)).type).toBe('flash_completed');
      const dev = provider.devices.get('BAD1');
      expect((await readPartition({ device: dev } as never, 'system', raw.length)).equals(raw)).toBe(true);
    } finally {
      await station.close();
    }
  });
});
