// Android factory images: the zip with bootloader, radio and a nested image zip, in the vendor's flash-all order.
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { FlashError } from '../../contracts/errors.js';
import type { LoadedPlan, LoadedStep, PlanImage } from '../../contracts/plan.js';
import { fileByteSource, owned } from '../../images/byte-source.js';
import { fileIdentity, unchangedCheck } from '../../images/file-identity.js';
import { MANIFEST_FILES } from '../../images/manifest-schema.js';
import { peek } from '../../images/open.js';
import { readSmall, readSmallBytes, zipImage } from '../../images/plan-images.js';
import { sniff } from '../../images/sniff.js';
import { openZip, type ZipArchive } from '../../images/zip.js';
import { parseAndroidInfo, type Requirement } from './android-info.js';
import { SUPER_EMPTY_MAX_BYTES } from './update-super.js';

/** `fastboot update` flashes the images of the nested zip in this order (AOSP fastboot's image table). */
const UPDATE_ORDER = [
  'boot', 'init_boot', 'boot_other', 'dtbo', 'dt', 'odm', 'odm_dlkm', 'product', 'pvmfw', 'recovery', 'system',
  'system_dlkm', 'system_ext', 'system_other', 'vbmeta', 'vbmeta_system', 'vbmeta_vendor', 'vendor', 'vendor_boot',
  'vendor_dlkm', 'vendor_kernel_boot', 'vendor_other',
];
/** Images for the slot that is not current (the table's secondary entries), with the partition they go to. */
const SECONDARY: Record<string, string> = { boot_other: 'boot', system_other: 'system', vendor_other: 'vendor' };
/**
 * The OS images of that table (AOSP `ImageType::Normal`, secondary ones included), in its order: with dynamic
 * partitions they are logical partitions, written from userspace fastbootd after `update-super`. The rest of the table
 * is boot-critical, written first.
 */
const OS_IMAGES = ['boot_other', 'odm', 'odm_dlkm', 'product', 'system', 'system_dlkm', 'system_ext', 'system_other', 'vendor', 'vendor_dlkm', 'vendor_other'];
/** Images `fastboot update` treats specially; not flashed by name (without super_empty, secondaries are left out too). */
const SPECIAL = new Set(['super_empty', 'cache', 'userdata']);
const REBOOT_WAIT_MS = 90_000;

/** In AOSP's table and not an OS image: written in the bootloader, before the switch to fastbootd. */
function isBootCritical(part: string): boolean {
  return UPDATE_ORDER.includes(part) && !OS_IMAGES.includes(part);
}

export function isFactoryZip(zip: ZipArchive): boolean {
  return zip.entries.some((e) => /(^|\/)image-[^/]+\.zip$/i.test(e.name));
}

export interface FactoryPlan {
  name: string;
  steps: LoadedStep[];
  requirements: Requirement[];
  declaredBytes: number;
  close(): Promise<void>;
}

/**
 * Plan a factory zip: require checks, bootloader, reboot, radio, reboot, the nested zip's images, wipe, reboot. With
 * a super_empty.img the nested images split as AOSP `fastboot update` splits them (see the loop below).
 */
export async function planFactory(outer: ZipArchive, name: string): Promise<FactoryPlan> {
  const files = outer.entries.filter((e) => !e.isDirectory);
  const inner = files.find((e) => /(^|\/)image-[^/]+\.zip$/i.test(e.name));
  if (!inner) throw new FlashError('image_invalid', `${outer.description} has no image-*.zip: not a factory image`);
  const bootloader = files.find((e) => /(^|\/)bootloader[^/]*\.img$/i.test(e.name));
  const radio = files.find((e) => /(^|\/)radio[^/]*\.img$/i.test(e.name));
  let tempDir: string | null = null;
  let innerZip: ZipArchive;
  const src = outer.entry(inner.name);
  if (inner.method === 0) {
    innerZip = await openZip(src, `${outer.description}!${inner.name}`, outer.unchanged);
  } else {
    // A deflated nested zip has no random access: unpack it once to a temporary file (deleted by close()).
    tempDir = await mkdtemp(join(tmpdir(), 'flash-station-factory-'));
    const path = join(tempDir, 'image.zip');
    await pipeline(Readable.from(owned(src.stream())), createWriteStream(path));
    const st = await stat(path);
    innerZip = await openZip(fileByteSource(path, 0, st.size, `${outer.description}!${inner.name}`), `${outer.description}!${inner.name}`);
  }
  const close = async (): Promise<void> => {
    innerZip.close();
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
    tempDir = null;
  };
  try {
    const info = innerZip.entries.find((e) => /(^|\/)android-info\.txt$/i.test(e.name)) ??
      files.find((e) => /(^|\/)android-info\.txt$/i.test(e.name));
    const requirements = info
      ? parseAndroidInfo(await readSmall(innerZip.entries.includes(info) ? innerZip.entry(info.name) : outer.entry(info.name)))
      : [];
    const requireStep = (r: Requirement): LoadedStep => ({ op: 'command', name: 'require', args: { ...r } });
    // A version the plan itself installs (bootloader-…-VERSION.img) cannot be on the device yet: check it after that
    // image is flashed and the device is back, as `fastboot update` does; every other requirement comes first.
    const installedBy = (r: Requirement): 'bootloader' | 'radio' | null => {
      const img = r.name === 'version-bootloader' ? bootloader : r.name === 'version-baseband' ? radio : undefined;
      if (!img) return null;
      return r.values.some((v) => img.name.includes(v)) ? (r.name === 'version-bootloader' ? 'bootloader' : 'radio') : null;
    };
    const steps: LoadedStep[] = requirements.filter((r) => installedBy(r) === null).map(requireStep);
    const afterBootloader = requirements.filter((r) => installedBy(r) === 'bootloader').map(requireStep);
    const afterRadio = requirements.filter((r) => installedBy(r) === 'radio').map(requireStep);
    let declaredBytes = 0;
    const flash = (partition: string, image: PlanImage, slot?: 'other'): void => {
      steps.push(slot ? { op: 'flash', target: { partition }, image, options: { slot } } : { op: 'flash', target: { partition }, image });
      declaredBytes += image.declaredSize ?? 0;
    };
    const rebootBootloader = (): void => {
      steps.push({ op: 'reboot', mode: 'bootloader' }, { op: 'wait_for_device', timeoutMs: REBOOT_WAIT_MS });
    };
    if (bootloader) {
      flash('bootloader', zipImage(outer, bootloader.name, bootloader.name, bootloader.size));
      rebootBootloader();
      steps.push(...afterBootloader);
    }
    if (radio) {
      flash('radio', zipImage(outer, radio.name, radio.name, radio.size));
      rebootBootloader();
      steps.push(...afterRadio);
    }
    const all = innerZip.entries
      .filter((e) => !e.isDirectory && /^[^/]+\.img$/i.test(e.name))
      .map((e) => ({ e, part: e.name.replace(/\.img$/i, '') }))
      .filter(({ part }) => !SPECIAL.has(part) || part === 'super_empty');
    const rank = (p: string): number => {
      const i = UPDATE_ORDER.indexOf(p);
      return i < 0 ? UPDATE_ORDER.length : i;
    };
    all.sort((a, b) => rank(a.part) - rank(b.part) || a.part.localeCompare(b.part));
    const superEmpty = all.find(({ part }) => part === 'super_empty');
    const images = all.filter(({ part }) => !SPECIAL.has(part) && (superEmpty || !Object.hasOwn(SECONDARY, part)));
    if (images.length === 0) throw new FlashError('image_invalid', `${innerZip.description} holds no .img files`);
    const flashImage = ({ e, part }: { e: { name: string; size: number }; part: string }): void => {
      const image = zipImage(innerZip, e.name, e.name, e.size);
      const other = SECONDARY[part];
      if (other) flash(other, image, 'other');
      else flash(part, image);
    };
    if (!superEmpty) {
      images.forEach(flashImage);
    } else {
      // Dynamic partitions (AOSP FlashAllTool): boot-critical images in the bootloader; then, from userspace
      // fastbootd, the new logical-partition table (`update-super`, not wiped: `fastboot -w update` wipes only
      // userdata), every OS partition of the table resized to 0, and the OS images in table order, each logical one
      // resized to its image by the flash step; the secondary images go to the other slot. Images outside the table go
      // with the OS images: fastbootd writes physical partitions too, the bootloader cannot write logical ones.
      images.filter(({ part }) => isBootCritical(part)).forEach(flashImage);
      const bytes = await readSmallBytes(innerZip.entry(superEmpty.e.name), SUPER_EMPTY_MAX_BYTES);
      const resetLogical = OS_IMAGES.map((p) => {
        const other = SECONDARY[p];
        return other ? { partition: other, slot: 'other' as const } : { partition: p };
      });
      const location = `${innerZip.description}!${superEmpty.e.name}`;
      steps.push({ op: 'command', name: 'update_super', args: { image: new Uint8Array(bytes), location, wipe: false, resetLogical } });
      images.filter(({ part }) => !isBootCritical(part)).forEach(flashImage);
    }
    steps.push({ op: 'erase', target: { partition: 'userdata' } }); // flash-all.sh runs `fastboot -w update`
    steps.push({ op: 'reboot', mode: 'system' });
    return { name, steps, requirements, declaredBytes, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * The fastboot family's plan reader: an Android factory zip (a zip holding image-*.zip and no bundle manifest).
 * Anything else resolves undefined after reading at most the zip's central directory.
 */
export async function readFactoryPlan(path: string): Promise<(LoadedPlan & { requirements: Requirement[] }) | undefined> {
  const st = await stat(path).catch(() => null);
  if (!st?.isFile()) return undefined;
  const file = fileByteSource(path, 0, st.size, basename(path));
  if (sniff(await peek(file, 8)) !== 'zip') return undefined;
  const zip = await openZip(file, basename(path), unchangedCheck(path, fileIdentity(st)));
  try {
    const hasManifest = zip.entries.some((e) => MANIFEST_FILES.includes(e.name.split('/').pop() ?? ''));
    if (hasManifest || !isFactoryZip(zip)) {
      zip.close();
      return undefined;
    }
    const f = await planFactory(zip, basename(path).replace(/\.zip$/i, ''));
    let closed = false;
    return {
      name: f.name,
      origin: path,
      steps: f.steps,
      requirements: f.requirements,
      declaredBytes: f.declaredBytes,
      async close() {
        if (closed) return;
        closed = true;
        await f.close();
        zip.close();
      },
    };
  } catch (e) {
    zip.close();
    throw e;
  }
}
