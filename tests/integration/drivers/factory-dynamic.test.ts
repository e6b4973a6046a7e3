// A factory image with super_empty.img and logical partitions, planned and run step by step through the fastboot
// driver on a simulated A/B device: boot-critical images in the bootloader, then fastbootd, update-super, the OS
// images resized and written byte for byte, system_other to the other slot; a corrupt super_empty stops the plan at
// update-super, before any OS image is written.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DeviceLink } from '../../../src/contracts/links.js';
import { createFastbootDriver } from './fastboot-driver.js';
import { loadPlan } from '../../../src/images/index.js';
import type { FastbootSimDevice } from '../../../src/sim/fastboot/index.js';
import { createSimProvider } from '../../../src/sim/index.js';
import { makeZip } from '../images/helpers.js';
import { superEmpty, SUPER_EMPTY_LAYOUT } from '../../unit/sim/super-empty.js';
import { testContext } from './job-context.js';
import { recordingSink, runPlan, writes } from './plan-runner.js';
import { readPartition, tempDir, writeMixedImage } from './sim-harness.js';
import { readFactoryPlan } from '../../../src/drivers/fastboot/factory-plan.js';
import { legacy } from './fastboot-driver.js';

const MiB = 1024 * 1024;
const SUPER = 64 * MiB;
const tmp = tempDir();
const images: Record<string, Buffer> = {};

/** The nested image zip (with `superEmptyBytes` as super_empty.img) inside a factory zip; returns its path. */
function factoryZip(name: string, superEmptyBytes: Buffer): string {
  const d = join(tmp.path, name);
  mkdirSync(join(d, 'inner'), { recursive: true });
  const inner: Record<string, string> = {};
  const put = (file: string, bytes: Buffer | string): void => {
    writeFileSync(join(d, 'inner', file), bytes);
    inner[file] = join(d, 'inner', file);
  };
  put('android-info.txt', 'require board=flashsim\n');
  for (const [part, bytes] of Object.entries(images)) if (part !== 'bootloader') put(`${part}.img`, bytes);
  put('super_empty.img', superEmptyBytes);
  makeZip(join(d, 'image-flashsim-dyn1.zip'), inner);
  writeFileSync(join(d, 'bootloader-flashsim-1.0.img'), images.bootloader ?? Buffer.alloc(0));
  const zip = join(tmp.path, `${name}.zip`);
  makeZip(zip, { 'flashsim-dyn1/image-flashsim-dyn1.zip': join(d, 'image-flashsim-dyn1.zip'), 'flashsim-dyn1/bootloader-flashsim-1.0.img': join(d, 'bootloader-flashsim-1.0.img') });
  return zip;
}

beforeAll(() => {
  const sizes: Record<string, number> = {
    bootloader: 256 * 1024, boot: 2 * MiB, dtbo: 128 * 1024, vbmeta: 8192, system: 3 * MiB + 4096, vendor: 1536 * 1024,
    product: 1 * MiB, system_other: 2 * MiB,
  };
  let seed = 70;
  for (const [part, size] of Object.entries(sizes)) images[part] = writeMixedImage(join(tmp.path, `${part}.raw`), size, seed++);
});
afterAll(() => tmp.remove());

const spec = (serial: string): string =>
  `fastboot:${serial}?max-download=1M&slots=1&reboot-delay=200ms&product=flashsim` +
  '&partitions=bootloader:1M,boot:8M,dtbo:1M,vbmeta:1M,super:64M,system:1M,vendor:1M,odm:1M,userdata:8M&logical=system,vendor,odm';

describe('a factory image with dynamic partitions', () => {
  it('flashes boot images in the bootloader, then update-super and the OS images in fastbootd, byte for byte', async () => {
    const zip = factoryZip('good', superEmpty({ superSize: SUPER, partitions: ['system', 'vendor', 'product'], slots: true }));
    const plan = await loadPlan(zip, [readFactoryPlan]);
    const provider = createSimProvider<FastbootSimDevice>([spec('DYN001')], { dataDir: join(tmp.path, 'good-data') });
    const sink = recordingSink();
    await provider.start(sink);
    try {
      const ops = plan.steps.map(legacy).map((s) => (s.op === 'flash' ? `flash:${s.partition}${s.slot ? `@${s.slot}` : ''}` : s.op === 'update_super' ? `update_super${s.wipe ? ':wipe' : ''}` : s.op));
      expect(ops).toEqual([
        'require', 'flash:bootloader', 'reboot', 'wait_for_device',
        'flash:boot', 'flash:dtbo', 'flash:vbmeta', 'update_super', 'flash:product', 'flash:system', 'flash:system@other',
        'flash:vendor', 'erase', 'reboot',
      ]);
      const stages: string[] = [];
      await runPlan(plan, 'DYN001', sink, stages);
      const dev = provider.devices.get('DYN001') as FastbootSimDevice;
      const size = (p: string): number => images[p]?.length ?? -1;
      expect(writes(dev)).toEqual([
        'flash:bootloader_a', 'reboot-bootloader',
        'flash:boot_a', 'flash:dtbo_a', 'flash:vbmeta_a',
        'reboot-fastboot', 'update-super:super',
        // AOSP resets every OS partition of its table to 0 first (vendor_b too, though there is no vendor_other.img).
        'resize-logical-partition:product_a:0', 'resize-logical-partition:system_a:0', 'resize-logical-partition:system_b:0',
        'resize-logical-partition:vendor_a:0', 'resize-logical-partition:vendor_b:0',
        `resize-logical-partition:product_a:${size('product')}`, 'flash:product_a',
        `resize-logical-partition:system_a:${size('system')}`, 'flash:system_a',
        `resize-logical-partition:system_b:${size('system_other')}`, 'flash:system_b',
        `resize-logical-partition:vendor_a:${size('vendor')}`, 'flash:vendor_a',
        'erase:userdata', 'reboot',
      ]);
      expect(stages).toContain('Rebooting into fastboot');
      expect(stages).toContain('Updating the super partition table');
      // The table of super_empty.img for the current slot (odm_a gone, product_a new, each sized to its image); without
      // :wipe the other slot's old partitions stay (odm_b, as on a device without virtual A/B).
      const logical = Object.fromEntries(dev.partitions.filter((p) => p.logical).map((p) => [p.name, p.size]));
      expect(logical).toEqual({
        system_a: size('system'), system_b: size('system_other'), vendor_a: size('vendor'), vendor_b: 0, product_a: size('product'),
        product_b: 0, odm_b: MiB,
      });
      const h = { device: dev } as never;
      for (const [part, target] of [['system', 'system_a'], ['vendor', 'vendor_a'], ['product', 'product_a'], ['system_other', 'system_b'], ['boot', 'boot_a'], ['bootloader', 'bootloader_a']] as const) {
        const want = images[part] as Buffer;
        expect((await readPartition(h, target, want.length)).equals(want), `${target} holds ${part}.img`).toBe(true);
      }
      expect(dev.violations).toEqual([]);
    } finally {
      await provider.stop();
      await plan.close();
    }
  });

  it('stops at update-super with a clear error when super_empty.img is corrupt, before any OS image is written', async () => {
    const bad = superEmpty({ superSize: SUPER, partitions: ['system', 'vendor', 'product'], slots: true });
    bad.writeUInt32LE(0xdeadbeef, SUPER_EMPTY_LAYOUT.geometry); // geometry magic
    const zip = factoryZip('corrupt', bad);
    const plan = await loadPlan(zip, [readFactoryPlan]);
    const provider = createSimProvider<FastbootSimDevice>([spec('DYN002')], { dataDir: join(tmp.path, 'corrupt-data') });
    const sink = recordingSink();
    await provider.start(sink);
    try {
      const failure = await runPlan(plan, 'DYN002', sink, []).then(() => undefined, (e: unknown) => e);
      expect(failure).toMatchObject({ code: 'device_rejected' });
      const message = (failure as Error).message;
      expect(message).toMatch(/"update-super:super"/);
      expect(message).toMatch(/invalid geometry magic 0xdeadbeef \(expected 0x616c4467\)/);
      expect(message).toMatch(/did not accept .*super_empty\.img as the logical-partition table of super; none of the OS images/);
      const dev = provider.devices.get('DYN002') as FastbootSimDevice;
      const w = writes(dev);
      expect(w.at(-1)).toBe('update-super:super');
      expect(w).toContain('flash:boot_a');
      expect(w.some((c) => /^(flash|resize-logical-partition):(system|vendor|product)_/.test(c))).toBe(false);
      // The logical partitions are as configured: the device kept its old table.
      expect(dev.partitions.filter((p) => p.logical).map((p) => p.name).sort()).toEqual(['odm_a', 'odm_b', 'system_a', 'system_b', 'vendor_a', 'vendor_b']);
    } finally {
      await provider.stop();
      await plan.close();
    }
  });

  it('update_super on a device already in fastbootd sends it without a reboot, :wipe when asked, and resets only logical partitions', async () => {
    const provider = createSimProvider<FastbootSimDevice>([`${spec('DYN003')}&mode=fastbootd`], { dataDir: join(tmp.path, 'direct-data') });
    const sink = recordingSink();
    await provider.start(sink);
    try {
      const link = sink.latest('DYN003')?.link as DeviceLink;
      const image = superEmpty({ superSize: SUPER, partitions: ['system', 'product'], slots: true });
      const driver = createFastbootDriver({ commandMs: 5000, writeMs: 10_000, rebootWaitMs: 10_000 });
      const step = { op: 'update_super' as const, image, location: 'super_empty.img', wipe: true, resetLogical: [{ partition: 'boot' }, { partition: 'system', slot: 'other' as const }] };
      await driver.run(link, step, testContext());
      const dev = provider.devices.get('DYN003') as FastbootSimDevice;
      expect(dev.stats.reboots).toBe(0);
      // boot_a is physical: not resized; system_b is the other slot's, logical.
      expect(writes(dev)).toEqual(['update-super:super:wipe', 'resize-logical-partition:system_b:0']);
      expect(dev.partitions.filter((p) => p.logical).map((p) => p.name).sort()).toEqual(['product_a', 'product_b', 'system_a', 'system_b']);
      await expect(driver.run(link, { ...step, image: new Uint8Array(0) }, testContext())).rejects.toMatchObject({
        code: 'image_invalid', message: expect.stringMatching(/super_empty\.img is 0 bytes: not a super_empty image.*nothing was sent/),
      });
    } finally {
      await provider.stop();
    }
  });
});
