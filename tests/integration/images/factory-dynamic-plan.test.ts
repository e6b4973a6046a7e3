// Planning a factory zip whose nested zip holds super_empty.img: the AOSP split into boot-critical and OS images,
// the update_super step with the image's bytes, secondary images to the other slot, unknown images with the OS ones;
// and update_super in a manifest.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { loadPlan } from '../../../src/images/index.js';
import { makeZip, randomImage, tempDir } from './helpers.js';
import { readFactoryPlan } from '../../../src/drivers/fastboot/factory-plan.js';
import { legacy } from '../drivers/fastboot-driver.js';
import { checkFastbootCommand } from '../../../src/drivers/fastboot/commands.js';
import { superEmptyBytes } from '../../../src/drivers/fastboot/update-super.js';
import type { PlanImage } from '../../../src/contracts/plan.js';

const t = tempDir('fs-factory-dyn-');
afterAll(() => t.cleanup());
const p = (n: string): string => join(t.dir, n);

function factory(name: string, parts: string[], superEmpty: boolean): string {
  const inner: Record<string, string> = {};
  writeFileSync(p(`${name}-android-info.txt`), 'require board=flashsim\n');
  inner['android-info.txt'] = p(`${name}-android-info.txt`);
  parts.forEach((part, i) => {
    writeFileSync(p(`${name}-${part}.img`), randomImage(i + 1, 2));
    inner[`${part}.img`] = p(`${name}-${part}.img`);
  });
  if (superEmpty) {
    writeFileSync(p(`${name}-super_empty.img`), randomImage(99, 3, 17)); // planning never parses it
    inner['super_empty.img'] = p(`${name}-super_empty.img`);
  }
  makeZip(p(`${name}-image.zip`), inner);
  makeZip(p(`${name}.zip`), { [`${name}/image-${name}.zip`]: p(`${name}-image.zip`) });
  return p(`${name}.zip`);
}

const PARTS = ['vendor_other', 'vendor', 'system_other', 'system', 'product', 'oem_extra', 'vbmeta', 'dtbo', 'boot', 'init_boot', 'vendor_boot'];

describe('factory images with super_empty.img', () => {
  it('boot-critical images first, then update_super, then OS images in table order, secondaries to the other slot', async () => {
    const plan = await loadPlan(factory('dyn', PARTS, true), [readFactoryPlan]);
    try {
      const ops = plan.steps.map(legacy).map((s) => (s.op === 'flash' ? `${s.partition}${s.slot ? `@${s.slot}` : ''}` : s.op));
      expect(ops).toEqual([
        'require', 'boot', 'init_boot', 'dtbo', 'vbmeta', 'vendor_boot', 'update_super',
        'product', 'system', 'system@other', 'vendor', 'vendor@other', 'oem_extra', 'erase', 'reboot',
      ]);
      const up = plan.steps.map(legacy).find((s) => s.op === 'update_super');
      if (up?.op !== 'update_super') throw new Error('no update_super step');
      expect(Buffer.from(up.image).equals(readFileSync(p('dyn-super_empty.img')))).toBe(true);
      expect(up.wipe).toBe(false);
      expect(up.location).toMatch(/image-dyn\.zip!super_empty\.img$/);
      expect(up.resetLogical?.map((r) => `${r.partition}${r.slot ? `@${r.slot}` : ''}`)).toEqual([
        'boot@other', 'odm', 'odm_dlkm', 'product', 'system', 'system_dlkm', 'system_ext', 'system@other', 'vendor', 'vendor_dlkm', 'vendor@other',
      ]);
      // Every image is counted, the secondary ones too.
      expect(plan.declaredBytes).toBe(PARTS.length * 2 * 4096);
    } finally {
      await plan.close();
    }
  });

  it('without super_empty.img keeps the old plan: every image by name in the bootloader, secondaries left out', async () => {
    const plan = await loadPlan(factory('flat', PARTS, false), [readFactoryPlan]);
    try {
      const ops = plan.steps.map(legacy).map((s) => (s.op === 'flash' ? `${s.partition}${s.slot ? `@${s.slot}` : ''}` : s.op));
      expect(ops).toEqual([
        'require', 'boot', 'init_boot', 'dtbo', 'product', 'system', 'vbmeta', 'vendor', 'vendor_boot', 'oem_extra', 'erase', 'reboot',
      ]);
    } finally {
      await plan.close();
    }
  });
});

describe('update_super in a manifest', () => {
  it('carries the expanded bytes of the named image (any supported format) and its wipe flag', async () => {
    const d = p('bundle');
    mkdirSync(d);
    const raw = randomImage(7, 3, 100);
    writeFileSync(join(d, 'super_empty.img.gz'), gzipSync(raw));
    writeFileSync(join(d, 'system.img'), randomImage(8, 2));
    writeFileSync(join(d, 'flash.yaml'), [
      'steps:',
      '  - { op: reboot, target: fastboot }',
      '  - { op: update_super, image: super_empty.img.gz, wipe: true }',
      '  - { op: flash, partition: system, image: system.img }',
    ].join('\n'));
    const plan = await loadPlan(d, [readFactoryPlan]);
    try {
      expect(plan.steps.map(legacy).map((s) => s.op)).toEqual(['reboot', 'update_super', 'flash']);
      const up = plan.steps[1];
      if (up?.op !== 'command' || up.name !== 'update_super') throw new Error('no update_super step');
      const args = up.args as { wipe?: boolean; resetLogical?: unknown; image: PlanImage };
      expect(args.wipe).toBe(true);
      expect(args.resetLogical).toBeUndefined();
      // The manifest's image is expanded when the step runs (any supported format).
      expect(Buffer.from(await superEmptyBytes(args.image)).equals(raw)).toBe(true);
    } finally {
      await plan.close();
    }
    writeFileSync(join(d, 'flash.yaml'), 'steps:\n  - { op: update_super, image: nosuch.img }\n');
    await expect(loadPlan(d, [readFactoryPlan])).rejects.toMatchObject({ code: 'image_not_found', message: expect.stringMatching(/nosuch\.img/) });
    writeFileSync(join(d, 'flash.yaml'), 'steps:\n  - { op: update_super, image: system.img, wipe: "yes" }\n');
    await expect(loadPlan(d, [readFactoryPlan])).rejects.toMatchObject({ code: 'image_invalid' });
    expect(checkFastbootCommand('update_super', { image: new Uint8Array(8), wipe: 'yes' })).toMatch(/wipe must be true or false/);
  });
});
