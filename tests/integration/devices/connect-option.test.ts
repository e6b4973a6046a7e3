// `serve --connect tcp:… / udp:…` through the launcher the CLI and Electron share: both network devices are listed,
// and a plan that reboots the device into the bootloader waits for it to answer at the same address and goes on.
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { launchStation } from '../../../src/server/launch.js';
import type { ServerMessage } from '../../../src/protocol/messages.js';
import { startUdpFace } from '../../../src/sim/fastboot/index.js';
import { readPartition, startTcpSim, tempDir, writeMixedImage } from '../drivers/sim-harness.js';
import { until } from '../../helpers/until.js';

const MiB = 1024 * 1024;
const tmp = tempDir();
afterAll(() => tmp.remove());

describe('serve --connect', () => {
  it('lists tcp: and udp: devices, and a plan goes on after the device reboots into the bootloader', async () => {
    const tcpSim = await startTcpSim('fastboot:CONN01?max-download=1M&partitions=boot:8M,system:8M&reboot-delay=300ms', tmp.path);
    const udpSim = await startTcpSim('fastboot:CONN02?partitions=boot:8M', tmp.path);
    const udpFace = await startUdpFace(udpSim.device, { port: 0 });
    const tcpId = `tcp:127.0.0.1:${tcpSim.face.port}`;
    const udpId = `udp:127.0.0.1:${udpFace.port}`;
    const launched = await launchStation({ port: 0, dataDir: join(tmp.path, 'data'), usb: false, serial: false, connect: [tcpId, udpId] });
    const { station } = launched;
    try {
      await until(() => [tcpId, udpId].every((id) => station.devices().some((d) => d.id === id && d.state === 'idle')), 10_000, 'both network devices');
      const tcp = station.devices().find((d) => d.id === tcpId);
      expect(tcp).toMatchObject({ transport: 'tcp', protocol: 'fastboot', serial: 'CONN01' });
      expect(station.devices().find((d) => d.id === udpId)).toMatchObject({ transport: 'udp', serial: 'CONN02' });

      const boot = join(tmp.path, 'boot.img');
      const system = join(tmp.path, 'system.img');
      const bootBytes = writeMixedImage(boot, 2 * MiB, 61);
      const systemBytes = writeMixedImage(system, 3 * MiB, 62);
      const events: ServerMessage[] = [];
      station.subscribe((m) => void events.push(m));
      const { jobId } = await station.startFlash({
        deviceId: tcpId,
        plan: {
          name: 'boot, reboot-bootloader, system',
          steps: [
            { op: 'flash', partition: 'boot', image: boot },
            { op: 'reboot', target: 'bootloader' },
            { op: 'flash', partition: 'system', image: system },
          ],
        },
      });
      await until(() => events.some((m) => (m.type === 'flash_completed' || m.type === 'flash_failed') && m.jobId === jobId), 30_000, 'the job to end');
      const failed = events.find((m) => m.type === 'flash_failed');
      expect(failed?.type === 'flash_failed' ? failed.error : '').toBe('');
      expect(events.some((m) => m.type === 'device_detached' && m.deviceId === tcpId)).toBe(true);
      expect(tcpSim.device.stats.reboots).toBe(1);
      expect((await readPartition(tcpSim, 'boot', bootBytes.length)).equals(bootBytes)).toBe(true);
      expect((await readPartition(tcpSim, 'system', systemBytes.length)).equals(systemBytes)).toBe(true);
    } finally {
      await launched.close();
      await udpFace.close();
      await udpSim.close();
      await tcpSim.close();
    }
  });
});
