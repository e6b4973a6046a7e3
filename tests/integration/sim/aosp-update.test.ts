// Proof of faithfulness for update-super: the real AOSP `fastboot -w update` of an image zip with super_empty.img
// drives the simulator over TCP — boot images, reboot to fastbootd, update-super:super, OS partitions reset to 0, each
// OS image resized and flashed, system_other to the other slot — and the logical partitions end up equal to their
// images. The station's plan of a factory zip holding that image zip sends the same commands to an identical device.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FastbootSimDevice } from '../../../src/sim/fastboot/device.js';
import { startTcpFace, type SimSocketServer } from '../../../src/sim/fastboot/tcp-face.js';
import { parseSimSpec } from '../../../src/sim/fastboot/spec.js';
import { loadPlan } from '../../../src/images/index.js';
import { readFactoryPlan } from '../../../src/drivers/fastboot/factory-plan.js';
import { createSimProvider } from '../../../src/sim/index.js';
import { makeZip, randomImage } from '../images/helpers.js';
import { recordingSink, runPlan, writes } from '../drivers/plan-runner.js';
import { superEmpty } from '../../unit/sim/super-empty.js';

const MiB = 1024 * 1024;

function run(cmd: string, args: string[], timeout = 90_000): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout, maxBuffer: 16 * MiB }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

/** Both devices: A/B, logical system and vendor (1 MiB each) in a 48 MiB super. */
const SPEC = (serial: string): string =>
  `fastboot:${serial}?partitions=boot:4M,vbmeta:1M,super:48M,system:1M,vendor:1M,userdata:4M&logical=system,vendor` +
  '&slots=1&max-download=1M&reboot-delay=300ms&product=flashsim';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sim-aosp-update-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('AOSP fastboot update with dynamic partitions', () => {
  let dev: FastbootSimDevice;
  let server: SimSocketServer;

  beforeAll(async () => {
    dev = await FastbootSimDevice.create({ ...parseSimSpec(SPEC('AOSPUPD')), storeDir: join(dir, 'store') });
    server = await startTcpFace(dev);
  });
  afterAll(async () => {
    await server.close();
    await dev.close();
  });

  async function imageZip(name: string, superEmptyImage: Buffer, images: Record<string, Buffer>): Promise<string> {
    const files: Record<string, string> = {};
    const put = async (file: string, bytes: Buffer | string): Promise<void> => {
      files[file] = join(dir, `${name}-${file}`);
      await writeFile(files[file], bytes);
    };
    await put('android-info.txt', 'require board=flashsim\n');
    await put('super_empty.img', superEmptyImage);
    for (const [part, bytes] of Object.entries(images)) await put(`${part}.img`, bytes);
    const zip = join(dir, `${name}.zip`);
    makeZip(zip, files);
    return zip;
  }

  it('sends update-super from fastbootd; the logical partitions become the image table, each equal to its image; our plan sends the same', async () => {
    const images = {
      boot: randomImage(1, 300), vbmeta: randomImage(2, 2), system: randomImage(3, 700), vendor: randomImage(4, 200),
      product: randomImage(5, 100), system_other: randomImage(6, 150),
    };
    const zip = await imageZip('good', superEmpty({ superSize: 48 * MiB, partitions: ['system', 'vendor', 'product'], slots: true }), images);
    const r = await run('fastboot', ['-s', server.uri, '-w', 'update', zip]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/Updating super partition\s+OKAY/);
    // AOSP `update` never wipes super (only flashall -w does); it resets the table's OS partitions to 0 first.
    const aosp = writes(dev);
    expect(aosp).toEqual([
      'set_active:a', 'flash:boot_a', 'flash:vbmeta_a', 'reboot-fastboot', 'update-super:super',
      'resize-logical-partition:product_a:0', 'resize-logical-partition:system_a:0', 'resize-logical-partition:system_b:0',
      'resize-logical-partition:vendor_a:0', 'resize-logical-partition:vendor_b:0',
      `resize-logical-partition:product_a:${images.product.length}`, 'flash:product_a',
      `resize-logical-partition:system_a:${images.system.length}`, 'flash:system_a',
      `resize-logical-partition:system_b:${images.system_other.length}`, 'flash:system_b',
      `resize-logical-partition:vendor_a:${images.vendor.length}`, 'flash:vendor_a',
      'erase:userdata', 'reboot',
    ]);
    for (const [part, target] of [['system', 'system_a'], ['vendor', 'vendor_a'], ['product', 'product_a'], ['system_other', 'system_b']] as const) {
      expect(dev.partitions.find((p) => p.name === target)?.size).toBe(images[part].length);
      expect((await readFile(dev.partitionPath(target))).equals(images[part]), target).toBe(true);
    }
    expect(dev.partitions.find((p) => p.name === 'vendor_b')?.size).toBe(0);
    expect(dev.violations).toEqual([]);

    // The same image zip in a factory zip, through our plan and driver, on an identical fresh device.
    const factory = join(dir, 'factory.zip');
    makeZip(factory, { 'flashsim-upd1/image-flashsim-upd1.zip': zip });
    const plan = await loadPlan(factory, [readFactoryPlan]);
    const provider = createSimProvider<FastbootSimDevice>([SPEC('OURSUPD')], { dataDir: join(dir, 'ours') });
    const sink = recordingSink();
    await provider.start(sink);
    try {
      await runPlan(plan, 'OURSUPD', sink);
      const ours = provider.devices.get('OURSUPD') as FastbootSimDevice;
      // The one difference: AOSP first re-activates the current slot (set_active:a); a plan does not know it.
      expect(writes(ours)).toEqual(aosp.filter((c) => !c.startsWith('set_active:')));
      for (const target of ['system_a', 'vendor_a', 'product_a', 'system_b', 'boot_a', 'vbmeta_a']) {
        expect((await readFile(ours.partitionPath(target))).equals(await readFile(dev.partitionPath(target))), target).toBe(true);
      }
    } finally {
      await provider.stop();
      await plan.close();
    }
  });

  it('reports the simulator\'s FAIL for a corrupt super_empty.img and writes no OS image', async () => {
    const bad = superEmpty({ superSize: 48 * MiB, partitions: ['system', 'vendor'], slots: true });
    bad[4096 + 12] = (bad[4096 + 12] ?? 0) ^ 0xff; // metadata header checksum
    const zip = await imageZip('bad', bad, { boot: randomImage(7, 10), system: randomImage(8, 20) });
    const before = dev.commandLog.length;
    const r = await run('fastboot', ['-s', server.uri, 'update', zip]);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/Data is not a valid logical partition metadata image: invalid metadata header checksum/);
    expect(dev.commandLog.slice(before).some((c) => /^(flash|resize-logical-partition):system/.test(c))).toBe(false);
  });
});
