// Plans: bundle folders and zips with JSON/YAML manifests, factory zips, inline plans, and what they refuse.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadPlan, openImage, openPlanStep } from '../../../src/images/index.js';
import { expand, makeZip, randomImage, tempDir } from './helpers.js';
import { readFactoryPlan } from '../../../src/drivers/fastboot/factory-plan.js';
import { legacy } from '../drivers/fastboot-driver.js';

const t = tempDir();
afterAll(() => t.cleanup());
const p = (name: string): string => join(t.dir, name);

describe('bundles and manifests', () => {
  it('loads a folder bundle with a YAML manifest and opens each image lazily', async () => {
    mkdirSync(p('bundle'));
    const boot = randomImage(1, 20);
    writeFileSync(p('bundle/boot.img'), boot);
    writeFileSync(p('bundle/flash.yaml'), [
      'name: Board v1',
      'steps:',
      '  - { op: getvar, name: product, expect: board }',
      '  - { op: flash, partition: boot, image: boot.img, slot: all }',
      '  - { op: erase, partition: userdata }',
      '  - { op: set_active, slot: a }',
      '  - { op: reboot, target: bootloader }',
      '  - { op: wait_for_device }',
      '  - { op: oem, command: device-info }',
      '  - { op: reboot }',
    ].join('\n'));
    const plan = await loadPlan(p('bundle'), [readFactoryPlan]);
    expect(plan.name).toBe('Board v1');
    expect(plan.steps.map(legacy).map((s) => s.op)).toEqual(['getvar', 'flash', 'erase', 'set_active', 'reboot', 'wait_for_device', 'oem', 'reboot']);
    expect(plan.steps[5]).toEqual({ op: 'wait_for_device', timeoutMs: 60_000 });
    expect(plan.steps[7]).toEqual({ op: 'reboot' });
    const step = await openPlanStep(plan.steps[1] ?? { op: 'reboot' });
    expect(step.op).toBe('flash');
    if (step.op !== 'flash') throw new Error('expected flash');
    expect(step.options?.slot).toBe('all');
    expect(step.target).toEqual({ partition: 'boot' });
    expect((await expand(step.source)).equals(boot)).toBe(true);
    await plan.close();
  });

  it('loads a zip bundle with a JSON manifest in a subfolder', async () => {
    mkdirSync(p('zb/release'), { recursive: true });
    const sys = randomImage(2, 30);
    writeFileSync(p('zb/release/system.img'), sys);
    writeFileSync(p('zb/release/flash.json'), JSON.stringify({ steps: [{ op: 'flash', partition: 'system', image: 'system.img' }] }));
    makeZip(p('zb.zip'), { 'release/system.img': p('zb/release/system.img'), 'release/flash.json': p('zb/release/flash.json') });
    const plan = await loadPlan(p('zb.zip'), [readFactoryPlan]);
    expect(plan.steps).toHaveLength(1);
    const step = await openPlanStep(plan.steps[0] ?? { op: 'reboot' });
    if (step.op !== 'flash') throw new Error('expected flash');
    expect((await expand(step.source)).equals(sys)).toBe(true);
    await plan.close();
  });

  it('refuses a manifest naming missing files, listing them', async () => {
    mkdirSync(p('missing'));
    writeFileSync(p('missing/flash.json'), JSON.stringify({ steps: [
      { op: 'flash', partition: 'boot', image: 'boot.img' },
      { op: 'flash', partition: 'vendor', image: 'vendor.img' },
    ] }));
    await expect(loadPlan(p('missing'), [readFactoryPlan])).rejects.toMatchObject({ code: 'image_not_found', message: expect.stringMatching(/boot\.img, vendor\.img/) });
  });

  it('refuses manifests that break the schema or escape the bundle', async () => {
    mkdirSync(p('bad'));
    writeFileSync(p('bad/flash.json'), JSON.stringify({ steps: [{ op: 'flash', partition: 'boot' }] }));
    await expect(loadPlan(p('bad'), [readFactoryPlan])).rejects.toMatchObject({ code: 'image_invalid', message: expect.stringMatching(/invalid plan/) });
    writeFileSync(p('bad/flash.json'), JSON.stringify({ steps: [{ op: 'flash', partition: 'boot', image: '../x.img' }] }));
    await expect(loadPlan(p('bad'), [readFactoryPlan])).rejects.toMatchObject({ code: 'image_invalid', message: expect.stringMatching(/outside the bundle/) });
  });

  it('accepts an inline plan with absolute image paths and refuses relative ones', async () => {
    writeFileSync(p('inline.img'), randomImage(3, 4));
    const plan = await loadPlan({ steps: [{ op: 'flash', partition: 'boot', image: p('inline.img') }, { op: 'reboot' }] }, [readFactoryPlan]);
    expect(plan.origin).toBe('inline');
    expect(plan.steps[0]).toMatchObject({ op: 'flash', target: { partition: 'boot' } });
    await expect(loadPlan({ steps: [{ op: 'flash', partition: 'boot', image: 'inline.img' }] }, [readFactoryPlan])).rejects.toMatchObject({ code: 'bad_request' });
  });
});

describe('Android factory images', () => {
  it('plans flash-all order with android-info requirements first', async () => {
    const d = p('sailfish-opm1');
    mkdirSync(d, { recursive: true });
    mkdirSync(p('inner'));
    writeFileSync(p('inner/android-info.txt'), [
      'require board=sailfish|marlin',
      'require version-bootloader=8996-012001-1711291800',
      'require version-baseband=8996-130181-1711291800',
      'require-for-product:marlin version-baseband=8996-999',
    ].join('\n'));
    for (const n of ['system', 'boot', 'vendor', 'vbmeta', 'system_other']) writeFileSync(p(`inner/${n}.img`), randomImage(n.length, 3));
    const innerFiles: Record<string, string> = { 'android-info.txt': p('inner/android-info.txt') };
    for (const n of ['boot', 'system', 'vendor', 'vbmeta', 'system_other']) innerFiles[`${n}.img`] = p(`inner/${n}.img`);
    makeZip(join(d, 'image-sailfish-opm1.zip'), innerFiles);
    writeFileSync(join(d, 'bootloader-sailfish-8996-012001-1711291800.img'), randomImage(9, 2));
    writeFileSync(join(d, 'radio-sailfish-8996-130181-1711291800.img'), randomImage(10, 2));
    writeFileSync(join(d, 'flash-all.sh'), '#!/bin/sh\n');
    const outer: Record<string, string> = {};
    for (const n of ['bootloader-sailfish-8996-012001-1711291800.img', 'radio-sailfish-8996-130181-1711291800.img', 'flash-all.sh', 'image-sailfish-opm1.zip']) {
      outer[`sailfish-opm1/${n}`] = join(d, n);
    }
    makeZip(p('factory.zip'), outer);
    makeZip(p('factory-stored.zip'), outer, true); // a stored nested zip is read in place, no temporary copy
    await expect(openImage(p('factory.zip'))).rejects.toMatchObject({ code: 'image_invalid', message: expect.stringMatching(/as a plan/) });
    const stored = await loadPlan(p('factory-stored.zip'), [readFactoryPlan]);
    expect(stored.steps.map((s) => s.op)).toContain('flash');
    const boot = stored.steps.find((s) => s.op === 'flash' && 'partition' in s.target && s.target.partition === 'boot');
    if (!boot) throw new Error('no boot step');
    const bootSrc = await openPlanStep(boot);
    if (bootSrc.op !== 'flash') throw new Error('expected flash');
    expect((await expand(bootSrc.source)).equals(randomImage(4, 3))).toBe(true);
    await stored.close();
    const plan = await loadPlan(p('factory.zip'), [readFactoryPlan]);
    const ops = plan.steps.map(legacy).map((s) => (s.op === 'flash' ? `flash:${s.partition}` : s.op === 'require' ? `require:${s.name}` : s.op));
    expect(ops).toEqual([
      'require:product', 'require:version-baseband',
      'flash:bootloader', 'reboot', 'wait_for_device', 'require:version-bootloader',
      'flash:radio', 'reboot', 'wait_for_device', 'require:version-baseband',
      'flash:boot', 'flash:system', 'flash:vbmeta', 'flash:vendor', 'erase', 'reboot',
    ]);
    expect(plan.steps[0]).toEqual({ op: 'command', name: 'require', args: { name: 'product', values: ['sailfish', 'marlin'] } });
    expect(plan.steps[1]).toMatchObject({ args: { forProduct: 'marlin' } });
    expect(plan.steps.filter((s) => s.op === 'command' && s.name === 'require')).toHaveLength(4);
    const sys = plan.steps.find((s) => s.op === 'flash' && 'partition' in s.target && s.target.partition === 'system');
    if (!sys) throw new Error('no system step');
    const opened = await openPlanStep(sys);
    if (opened.op !== 'flash') throw new Error('expected flash');
    expect((await expand(opened.source)).equals(randomImage(6, 3))).toBe(true);
    await plan.close();
  });
});
