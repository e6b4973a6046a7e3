// A multi-step plan through the whole station on a simulated A/B device: flash both slots, reboot into the
// bootloader (the device goes away and comes back under the same serial), then go on: set_active, flash, getvar.
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { createStation } from '../../../src/core/station.js';
import { createSimProvider } from '../../../src/sim/index.js';
import { ended, readPartition, tempDir, writeMixedImage } from './sim-harness.js';
import type { FastbootSimDevice } from '../../../src/sim/fastboot/device.js';

const MiB = 1024 * 1024;
const tmp = tempDir();
afterAll(() => tmp.remove());

describe('a plan through the station', () => {
  it('flashes, reboots into the bootloader, waits for the same device and goes on', async () => {
    const dataDir = join(tmp.path, 'plan');
    const provider = createSimProvider<FastbootSimDevice>(['fastboot:PLAN01?max-download=1M&slots=1&partitions=boot:8M,system:16M&reboot-delay=300ms'], { dataDir });
    const station = await createStation({ dataDir, providers: [provider], settings: { retries: 0 } });
    try {
      const boot = join(tmp.path, 'boot.img');
      const system = join(tmp.path, 'system.img');
      const bootBytes = writeMixedImage(boot, 2 * MiB, 51);
      const systemBytes = writeMixedImage(system, 5 * MiB, 52);
      const end = Date.now() + 10_000;
      while (!station.devices().some((d) => d.id === 'PLAN01' && d.state === 'idle')) {
        if (Date.now() > end) throw new Error('device not ready');
        await new Promise((r) => setTimeout(r, 50));
      }
      const logs: string[] = [];
      const detached: string[] = [];
      station.subscribe((m) => {
        if (m.type === 'flash_log') logs.push(m.message);
        if (m.type === 'device_detached') detached.push(m.deviceId);
      });
      const { jobId } = await station.startFlash({
        deviceId: 'PLAN01',
        plan: {
          name: 'two slots',
          steps: [
            { op: 'flash', partition: 'boot', image: boot, slot: 'all' },
            { op: 'reboot', target: 'bootloader' },
            { op: 'set_active', slot: 'b' },
            { op: 'flash', partition: 'system', image: system },
            { op: 'getvar', name: 'current-slot', expect: 'b' },
          ],
        },
      });
      const done = await ended(station, jobId, 60_000);
      expect(done.type === 'flash_failed' ? done.error : '').toBe('');
      expect(done.type).toBe('flash_completed');
      expect(detached).toContain('PLAN01');
      const dev = provider.devices.get('PLAN01');
      expect(dev?.stats.reboots).toBe(1);
      const read = (name: string, n: number): Promise<Buffer> => readPartition({ device: dev } as never, name, n);
      expect((await read('boot_a', bootBytes.length)).equals(bootBytes)).toBe(true);
      expect((await read('boot_b', bootBytes.length)).equals(bootBytes)).toBe(true);
      expect((await read('system_b', systemBytes.length)).equals(systemBytes)).toBe(true);
      expect(logs.some((l) => /current-slot: b/.test(l))).toBe(true);
      const job = station.job(jobId);
      expect(job?.bytesTransferred).toBe(job?.totalBytes);
    } finally {
      await station.close();
    }
  });
});
