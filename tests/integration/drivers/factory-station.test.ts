// A factory zip with super_empty.img started through the whole station on a simulated A/B device in the bootloader,
// which lists no logical partitions there: the job is accepted, goes to fastbootd by itself and completes, with the
// logical partitions equal to their images.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createStation } from '../../../src/core/station.js';
import { createSimProvider } from '../../../src/sim/index.js';
import { makeZip } from '../images/helpers.js';
import { superEmpty } from '../../unit/sim/super-empty.js';
import { ended, readPartition, tempDir, writeMixedImage } from './sim-harness.js';
import type { FastbootSimDevice } from '../../../src/sim/fastboot/device.js';

const MiB = 1024 * 1024;
const tmp = tempDir();
afterAll(() => tmp.remove());

describe('a dynamic-partition factory image through the station', () => {
  it('is accepted for a device in the bootloader and completes, switching to fastbootd for the logical partitions', async () => {
    const d = tmp.path;
    const images: Record<string, Buffer> = {};
    const inner: Record<string, string> = {};
    writeFileSync(join(d, 'android-info.txt'), 'require board=flashsim\n');
    inner['android-info.txt'] = join(d, 'android-info.txt');
    for (const [part, size, seed] of [['boot', 2 * MiB, 81], ['system', 3 * MiB, 82], ['product', 1 * MiB, 83]] as const) {
      images[part] = writeMixedImage(join(d, `${part}.img`), size, seed);
      inner[`${part}.img`] = join(d, `${part}.img`);
    }
    writeFileSync(join(d, 'super_empty.img'), superEmpty({ superSize: 64 * MiB, partitions: ['system', 'product'], slots: true }));
    inner['super_empty.img'] = join(d, 'super_empty.img');
    makeZip(join(d, 'image-flashsim-st1.zip'), inner);
    const zip = join(d, 'factory.zip');
    images.bootloader = writeMixedImage(join(d, 'bootloader-flashsim-1.0.img'), 256 * 1024, 80);
    makeZip(zip, { 'flashsim-st1/image-flashsim-st1.zip': join(d, 'image-flashsim-st1.zip'), 'flashsim-st1/bootloader-flashsim-1.0.img': join(d, 'bootloader-flashsim-1.0.img') });

    const dataDir = join(d, 'data');
    mkdirSync(dataDir);
    const spec = 'fastboot:FSTA01?max-download=1M&slots=1&product=flashsim&reboot-delay=200ms' +
      '&partitions=bootloader:1M,boot:8M,super:64M,system:1M,userdata:4M&logical=system';
    const provider = createSimProvider<FastbootSimDevice>([spec], { dataDir });
    const station = await createStation({ dataDir, providers: [provider], settings: { retries: 0 } });
    try {
      const end = Date.now() + 10_000;
      while (!station.devices().some((x) => x.id === 'FSTA01' && x.state === 'idle')) {
        if (Date.now() > end) throw new Error('device not ready');
        await new Promise((r) => setTimeout(r, 50));
      }
      // The bootloader lists no logical partition: the plan is still accepted.
      expect(station.devices().find((x) => x.id === 'FSTA01')?.partitions?.some((p) => p.name.startsWith('system'))).toBe(false);
      const { jobId } = await station.startFlash({ deviceId: 'FSTA01', plan: zip });
      const result = await ended(station, jobId, 60_000);
      expect(result).toMatchObject({ type: 'flash_completed' });
      const dev = provider.devices.get('FSTA01');
      if (!dev) throw new Error('no device');
      expect(dev.commandLog).toContain('update-super:super');
      expect(dev.stats.reboots).toBe(3); // to the bootloader after its image, to fastbootd, the final reboot
      for (const [part, target] of [['bootloader', 'bootloader_a'], ['boot', 'boot_a'], ['system', 'system_a'], ['product', 'product_a']] as const) {
        const want = images[part] as Buffer;
        if (part === 'system' || part === 'product') expect(dev.partitions.find((p) => p.name === target)?.size).toBe(want.length);
        expect((await readPartition({ device: dev } as never, target, want.length)).equals(want), target).toBe(true);
      }
    } finally {
      await station.close();
    }
  });
});
