// The update_super step: to userspace fastbootd if needed, download super_empty.img, then `update-super:NAME[:wipe]`.
import { FlashError, isFlashError } from '../../contracts/errors.js';
import type { JobContext } from '../../contracts/family.js';
import type { PlanImage } from '../../contracts/plan.js';
import type { UpdateSuperArgs } from './commands.js';
import { sendDownload } from './download.js';
import { openSession, type Session } from './session.js';
import { checkPartitionName } from './protocol.js';
import { runReboot } from './steps.js';
import { targetsFor } from './targets.js';

/** Largest super_empty image accepted (liblp metadata: geometry + one copy is at most a few hundred KiB). */
export const SUPER_EMPTY_MAX_BYTES = 4 << 20;

/** The expanded bytes of a small image (a super_empty image is a few KiB; any supported format). */
export async function superEmptyBytes(image: PlanImage, signal?: AbortSignal): Promise<Uint8Array> {
  const max = SUPER_EMPTY_MAX_BYTES;
  if (image.declaredSize !== undefined && image.declaredSize > max) {
    throw new FlashError('image_invalid', `${image.location} is ${image.declaredSize} bytes: too large for a super_empty image (at most ${max})`);
  }
  const source = await image.open({ signal });
  if (source.size > max) throw new FlashError('image_invalid', `${source.description} expands to ${source.size} bytes: too large for a super_empty image (at most ${max})`);
  const out = new Uint8Array(source.size);
  const view = new DataView(out.buffer);
  for await (const c of source.chunks(signal)) {
    if (c.kind === 'data') out.set(c.bytes, c.offset);
    else if (c.kind === 'fill' && c.value !== 0) for (let at = c.offset; at < c.offset + c.length; at += 4) view.setUint32(at, c.value, true);
  }
  return out;
}


/**
 * Rewrites the logical-partition table the way AOSP `fastboot update` does. Only userspace fastbootd knows
 * `update-super`, so a device in the bootloader is rebooted there first (`reboot-fastboot`, then wait for the same
 * serial). The super partition's name is the device's `super-partition-name` (`super` when it does not say). Then the
 * logical partitions of `resetLogical` are resized to 0, as AOSP does before writing the OS images.
 */
export async function runUpdateSuper(session: Session, step: UpdateSuperArgs, ctx: JobContext): Promise<void> {
  const { signal } = ctx;
  const image = step.image instanceof Uint8Array ? step.image : await superEmptyBytes(step.image, signal);
  const location = step.location ?? (step.image instanceof Uint8Array ? 'super_empty.img' : step.image.location);
  const wipe = step.wipe ?? false;
  if (image.length === 0 || image.length > SUPER_EMPTY_MAX_BYTES) {
    throw new FlashError(
      'image_invalid',
      `${location} is ${image.length} bytes: not a super_empty image (liblp metadata of at most ${SUPER_EMPTY_MAX_BYTES} bytes); nothing was sent`,
    );
  }
  let s = session;
  if (!(await s.isUserspace(signal))) {
    ctx.log('info', 'The logical partitions are written from userspace fastbootd: rebooting there first');
    const link = await runReboot(s, 'fastboot', ctx);
    if (!link) throw new FlashError('internal', 'rebooting into fastbootd returned no link');
    s = await openSession(link, s.timeouts, signal);
    if (!(await s.isUserspace(signal))) {
      throw new FlashError(
        'device_rejected',
        'The device came back from "reboot-fastboot" but is not in userspace fastbootd (is-userspace is not "yes"), so it ' +
          'cannot update the logical partitions. Its bootloader and boot images may already be written; the OS images were not.',
      );
    }
  }
  const name = (await s.client.getvar('super-partition-name', signal)) ?? 'super';
  ctx.stage(`Updating the ${name} partition table${wipe ? ' (wiping the logical partitions)' : ''}`);
  const chunks = (async function* () {
    yield image;
  })();
  await sendDownload(s.client, { length: image.length, dataBytes: image.length, bytes: chunks, what: location }, ctx);
  const command = `update-super:${name}${wipe ? ':wipe' : ''}`;
  try {
    await s.client.okay(command, { signal, timeoutMs: s.timeouts.writeMs });
  } catch (e) {
    if (isFlashError(e) && e.code === 'device_rejected') {
      throw new FlashError(
        'device_rejected',
        `${e.message}. The device did not accept ${location} as the logical-partition table of ${name}; none of the ` +
          'OS images (system, vendor, product, …) was written. Use the super_empty.img of a factory image built for this device.',
        { cause: e },
      );
    }
    throw e;
  }
  ctx.log('info', `${name}: logical-partition table updated from ${location}${wipe ? ' (wiped)' : ''}`);
  for (const { partition, slot } of step.resetLogical ?? []) {
    checkPartitionName(partition);
    const { targets } = await targetsFor(s, partition, slot, signal);
    for (const t of targets) {
      if (await s.isLogical(t, signal)) await s.client.okay(`resize-logical-partition:${t}:0`, { signal, timeoutMs: s.timeouts.writeMs });
    }
  }
}
