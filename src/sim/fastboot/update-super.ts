// `update-super:NAME[:wipe]` of the simulated fastbootd: the downloaded super_empty image becomes the logical partitions.
import type { SimPartition } from './config.js';
import type { SimSession } from './connection.js';
import type { FastbootSimDevice } from './device.js';
import { LP_ATTR_SLOT_SUFFIXED, LpMetadataError, parseSuperEmpty, type LpMetadata } from './liblp.js';

/** Far more than any liblp metadata (geometry + one copy of at most a few hundred KiB). */
const MAX_IMAGE = 16 * 1024 * 1024;

/**
 * As AOSP fastbootd (device/flashing.cpp UpdateSuper): with `:wipe`, or when the old table cannot be kept, the new
 * table replaces every logical partition; without it, old partitions that are not of the current slot keep their
 * place and contents (the other slot's, and unslotted ones; `scratch` never). A partition the new table names gets the
 * size of its extents — 0 in a super_empty image, so each is resized before it is flashed. Virtual A/B (which drops
 * the other slot's partitions too) is not modelled.
 */
export async function updateSuper(dev: FastbootSimDevice, s: SimSession, arg: string): Promise<void> {
  if (dev.mode !== 'fastbootd') {
    dev.reply(s, 'FAIL', 'unknown command update-super (logical partitions are handled by fastbootd: fastboot reboot fastboot)');
    return;
  }
  const [superName = '', flag] = arg.split(':');
  if (!superName) return dev.reply(s, 'FAIL', 'Invalid arguments: update-super:SUPER-PARTITION[:wipe]');
  if (!dev.unlocked) return dev.reply(s, 'FAIL', 'Command not available on locked devices');
  const superPart = dev.partitions.find((p) => p.name === superName && !p.logical);
  if (!superPart) return dev.reply(s, 'FAIL', `Cannot find ${superName}, build may be missing broken or missing boot_devices`);
  const size = dev.downloads.size;
  if (size === undefined) return dev.reply(s, 'FAIL', 'No data available: download the super_empty image first');
  if (size > MAX_IMAGE) return dev.reply(s, 'FAIL', `Data is not a valid logical partition metadata image (${size} bytes is far larger than liblp metadata)`);
  let metadata: LpMetadata;
  try {
    metadata = parseSuperEmpty((await dev.downloads.readAll()) ?? new Uint8Array(0));
  } catch (e) {
    if (e instanceof LpMetadataError) return dev.reply(s, 'FAIL', `Data is not a valid logical partition metadata image: ${e.message}`);
    throw e;
  }
  const device = metadata.blockDevices[0];
  if (device && device.size !== superPart.size) {
    return dev.reply(s, 'FAIL', `Unable to flash new partition table: block device ${superName} size mismatch (metadata says ${device.size} bytes, ${superName} is ${superPart.size})`);
  }
  const suffix = dev.slots ? `_${dev.currentSlot}` : '';
  const wanted = metadata.partitions.map((p) => ({ name: p.attributes & LP_ATTR_SLOT_SUFFIXED ? `${p.name}${suffix}` : p.name, size: p.size }));
  const clash = wanted.find((w) => dev.partitions.some((p) => p.name === w.name && !p.logical));
  if (clash) return dev.reply(s, 'FAIL', `Unable to flash new partition table: "${clash.name}" is a physical partition of this device`);
  const wipe = flag === 'wipe';
  const keep = (p: SimPartition): boolean => !wipe && p.name !== 'scratch' && (suffix === '' || !p.name.endsWith(suffix));
  for (const p of dev.partitions.filter((q) => q.logical && !keep(q))) {
    await dev.store.remove(p.name);
    dev.removePartition(p.name);
  }
  for (const w of wanted) {
    if (dev.partitions.some((p) => p.name === w.name)) continue; // kept from the old table, with its extents
    await dev.store.add(w.name, w.size);
    const slot = /_([ab])$/.exec(w.name)?.[1] as 'a' | 'b' | undefined;
    dev.addPartition({ name: w.name, base: slot ? w.name.slice(0, -2) : w.name, size: w.size, type: 'raw', logical: true, ...(slot ? { slot } : {}) });
  }
  dev.reply(s, 'OKAY', wipe ? 'Successfully flashed partition table' : 'Successfully updated partition table');
}
