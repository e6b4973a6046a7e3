// Discovery: the USB provider starts and stops cleanly on a machine without USB, attaches fastboot interfaces on
// hotplug with serial or port ids; the network provider attaches a tcp: or udp: device, and after a reboot detaches it
// and attaches it again once it answers.
import { afterAll, describe, expect, it } from 'vitest';
import type { Candidate } from '../../../src/contracts/family.js';
import type { DeviceLink } from '../../../src/contracts/links.js';
import type { CandidateSink } from '../../../src/contracts/provider.js';
import { fastbootFamily } from '../../../src/drivers/fastboot/index.js';
import { createNetworkProvider } from '../../../src/devices/network-provider.js';
import { createUsbProvider, type WebUsbLike } from '../../../src/devices/usb-provider.js';
import { createFastbootDriver } from '../drivers/fastboot-driver.js';
import { FastbootSimDevice, SimUsbDevice, parseSimSpec, startUdpFace } from '../../../src/sim/fastboot/index.js';
import { testContext } from '../drivers/job-context.js';
import { startTcpSim, tempDir } from '../drivers/sim-harness.js';
import { until } from '../../helpers/until.js';

const tmp = tempDir();
afterAll(() => tmp.remove());

interface AttachedDevice {
  device: { id: string; transport: string; port?: string };
  link: DeviceLink;
}

/** A candidate sink that lets the fastboot family claim what is offered, with ids as the registry gives them. */
function sink(): CandidateSink & { attached: Map<string, AttachedDevice>; events: string[] } {
  const attached = new Map<string, AttachedDevice>();
  const links = new Map<string, DeviceLink>();
  const ids = new Map<string, string>();
  const events: string[] = [];
  const linkFor = (c: Candidate): DeviceLink | undefined => {
    if (fastbootFamily.match(c) === undefined) return undefined;
    let l = links.get(c.key);
    if (!l) links.set(c.key, (l = fastbootFamily.connect(c)));
    return l;
  };
  return {
    attached,
    events,
    linkFor,
    offer(c) {
      const link = linkFor(c);
      if (!link) return;
      const id = c.serial && !attached.has(c.serial) ? c.serial : c.key;
      ids.set(c.key, id);
      attached.set(id, { device: { id, transport: c.transport, ...(c.port ? { port: c.port } : {}) }, link });
      events.push(`+${id}`);
    },
    withdraw(key) {
      const id = ids.get(key) ?? key;
      attached.delete(id);
      events.push(`-${id}`);
    },
  };
}

describe('usb provider', () => {
  it('starts and stops cleanly with the real usb package on this machine', async () => {
    const logs: string[] = [];
    const p = createUsbProvider({ log: (m) => logs.push(m) });
    const s = sink();
    await p.start(s);
    await p.stop();
    expect(s.attached.size).toBe(0);
    // Either there is no USB bus here (and it says so) or there are no fastboot devices on it.
    expect(logs.every((l) => /USB discovery is off/.test(l))).toBe(true);
  });

  it('attaches fastboot devices on connect and detaches them on disconnect, with serial or port ids', async () => {
    const devs = await Promise.all(
      ['SAME', 'SAME'].map(async (serial, i) => {
        const dev = await FastbootSimDevice.create({ ...parseSimSpec(`fastboot:${serial}?partitions=boot:1M`), storeDir: `${tmp.path}/usb${i}` });
        return Object.assign(new SimUsbDevice(dev), { bus: '1', ports: [2, i + 1], address: i + 5 });
      }),
    );
    const target = new EventTarget();
    const webusb: WebUsbLike = {
      getDevices: async () => [devs[0] as SimUsbDevice & { bus: string; ports: number[] }],
      addEventListener: (type, l) => target.addEventListener(type, l),
      removeEventListener: (type, l) => target.removeEventListener(type, l),
    };
    const p = createUsbProvider({ webusb });
    const s = sink();
    await p.start(s);
    expect([...s.attached.keys()]).toEqual(['SAME']);
    expect(s.attached.get('SAME')?.device.port).toBe('1-2.1');
    // A second board with the same serial gets its port as id.
    target.dispatchEvent(Object.assign(new Event('connect'), { device: devs[1] }));
    expect([...s.attached.keys()].sort()).toEqual(['SAME', 'usb:1-2.2']);
    const d = await createFastbootDriver().describe(s.attached.get('usb:1-2.2')!.link);
    expect(d.serial).toBe('SAME');
    target.dispatchEvent(Object.assign(new Event('disconnect'), { device: devs[0] }));
    expect([...s.attached.keys()]).toEqual(['usb:1-2.2']);
    await p.stop();
    expect(s.attached.size).toBe(0);
  });
});

describe('network provider', () => {
  it('attaches a tcp: device, and after a reboot detaches it and attaches it again', async () => {
    const sim = await startTcpSim('fastboot:NET001?reboot-delay=300ms&partitions=boot:1M', tmp.path);
    const p = createNetworkProvider([`tcp:127.0.0.1:${sim.face.port}`], { pollMs: 100, protocol: 'fastboot' });
    const s = sink();
    const id = `tcp:127.0.0.1:${sim.face.port}`;
    await p.start(s);
    try {
      await until(() => s.attached.has(id));
      const a = s.attached.get(id)!;
      expect(a.device.transport).toBe('tcp');
      const driver = createFastbootDriver({ rebootWaitMs: 5000 });
      expect((await driver.describe(a.link)).serial).toBe('NET001');
      await driver.run(a.link, { op: 'reboot', target: 'system' }, testContext());
      await until(() => s.events.includes(`-${id}`));
      await until(() => s.events.filter((e) => e === `+${id}`).length === 2);
      expect((await driver.describe(s.attached.get(id)!.link)).serial).toBe('NET001');
    } finally {
      await p.stop();
      await sim.close();
    }
  });

  it('attaches a udp: device, and after a reboot detaches it and attaches it again', async () => {
    const sim = await startTcpSim('fastboot:NETU01?reboot-delay=300ms&partitions=boot:1M', tmp.path);
    const face = await startUdpFace(sim.device, { port: 0 });
    const id = `udp:127.0.0.1:${face.port}`;
    const p = createNetworkProvider([id], { pollMs: 100, protocol: 'fastboot' });
    const s = sink();
    await p.start(s);
    try {
      await until(() => s.attached.has(id));
      const a = s.attached.get(id)!;
      expect(a.device.transport).toBe('udp');
      const driver = createFastbootDriver({ rebootWaitMs: 5000 });
      expect((await driver.describe(a.link)).serial).toBe('NETU01');
      await driver.run(a.link, { op: 'reboot', target: 'system' }, testContext());
      await until(() => s.events.includes(`-${id}`));
      await until(() => s.events.filter((e) => e === `+${id}`).length === 2, 10_000);
      expect((await driver.describe(s.attached.get(id)!.link)).serial).toBe('NETU01');
      expect(sim.device.stats.reboots).toBe(1);
    } finally {
      await p.stop();
      await face.close();
      await sim.close();
    }
  });

  it('refuses a malformed address up front', () => {
    expect(() => createNetworkProvider(['tcp:'])).toThrow(/tcp:HOST/);
  });
});
