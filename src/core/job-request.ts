// Turns a start_flash request into validated JobSpecs — devices, partitions and images are checked before any job exists.
import { stat, access } from 'node:fs/promises';
import { constants } from 'node:fs';
import { isAbsolute } from 'node:path';
import type { DeviceRegistry } from '../devices/registry.js';
import type { LoadedPlan, LoadedStep, PlanImage, PreparedImage } from '../images/index.js';
import type { Device, PartitionInfo } from '../protocol/messages.js';
import { FlashError } from './errors.js';
import type { ImageBackend } from './image-backend.js';
import { describeSelector, matchesSelector } from './device-select.js';
import type { JobSpec } from './job-spec.js';
import { afterLast, preopenedImage, refCounted, releaseSource } from './job-spec.js';
import type { StartFlashRequest } from './station-api.js';
import type { Family, Target, TargetKind } from '../contracts/family.js';
import { parseAddress, targetText } from '../contracts/plan.js';
import type { BlockSource } from '../contracts/source.js';
import { checkFits as checkImageFits } from '../images/fits.js';
import { formatBytes } from '../protocol/units.js';

export interface ResolveDeps {
  registry: DeviceRegistry;
  images: ImageBackend;
  /** How long to wait for a device that is not connected (0 = refuse). */
  deviceWaitMs: number;
  /** Which of these devices would start at once (one decode feeds them; the others decode when they run). */
  startableNow(deviceIds: string[]): string[];
  /** Where an image that must be decoded before writing is spooled (DATA_DIR/spool); without it, it is decoded now. */
  spoolDir?: string;
}

export interface ResolvedRequest {
  specs: JobSpec[];
  waitMs: number;
}

/** Device ids a request addresses, in the order given. */
export function targetDevices(req: StartFlashRequest, registry: DeviceRegistry): string[] {
  const ids = req.deviceIds ?? (req.deviceId !== undefined ? [req.deviceId] : []);
  if (req.deviceIds !== undefined && !Array.isArray(req.deviceIds)) throw new FlashError('bad_request', '`deviceIds` must be a list of device ids.');
  let out: string[];
  if (ids.includes('*') || (ids.length === 0 && req.selector)) {
    const selector = req.selector ?? { state: 'idle' as const };
    out = registry.list().filter((d) => matchesSelector(d, selector)).map((d) => d.id);
    if (!out.length) throw new FlashError('device_not_found', `No connected device matches (${describeSelector(selector)}).`);
  } else {
    out = ids;
  }
  if (!out.length) throw new FlashError('bad_request', 'Say which device to flash: `deviceId`, `deviceIds` or `selector`.');
  for (const id of out) if (typeof id !== 'string' || !id) throw new FlashError('bad_request', 'Device ids must be non-empty strings.');
  return [...new Set(out)];
}

export async function resolveRequest(req: StartFlashRequest, deps: ResolveDeps): Promise<ResolvedRequest> {
  const deviceIds = targetDevices(req, deps.registry);
  const waitMs = req.waitForDeviceMs ?? deps.deviceWaitMs;
  if (typeof waitMs !== 'number' || !(waitMs >= 0)) throw new FlashError('bad_request', '`waitForDeviceMs` must be a number ≥ 0.');
  // Protected devices (a system disk, contract §7) are refused before anything else: they are never listed, so
  // the device lookup below would call them missing.
  for (const id of deviceIds) {
    const p = deps.registry.candidates.protectedCandidate(id);
    if (p) throw new FlashError('device_protected', `Device ${id} is never written: ${p.protected}.`);
  }
  const devices = new Map<string, Device | undefined>();
  for (const id of deviceIds) {
    const entry = deps.registry.find(id);
    if (!entry && waitMs === 0) {
      throw new FlashError('device_not_found', `No device ${id} is connected — check the cable, or pick one from the device list.`);
    }
    if (entry) await Promise.race([entry.ready, new Promise((r) => setTimeout(r, 20_000).unref())]);
    devices.set(id, entry ? deps.registry.get(entry.attached.device.id) : undefined);
  }

  const hasImage = req.image !== undefined || req.partition !== undefined || req.address !== undefined;
  if (hasImage && req.plan !== undefined) throw new FlashError('bad_request', 'Give either `image` (with `partition`, `address` or neither), or `plan` — not both.');
  if (!hasImage && req.plan === undefined) throw new FlashError('bad_request', 'Say what to flash: `image` with `partition`, `address` or neither (the whole device), or `plan`.');

  if (hasImage) return { specs: await imageSpecs(req, deviceIds, devices, deps), waitMs };
  return { specs: await planSpecs(req, deviceIds, devices, deps), waitMs };
}

async function imageSpecs(
  req: StartFlashRequest,
  deviceIds: string[],
  devices: Map<string, Device | undefined>,
  deps: ResolveDeps,
): Promise<JobSpec[]> {
  const target = requestTarget(req);
  const image = req.image;
  if (typeof image !== 'string' || !image) throw new FlashError('bad_request', '`image` must be a file path.');
  for (const id of deviceIds) checkTarget(devices.get(id), familyOf(deps, id), target);
  const fileSize = await checkImageFile(image);
  // Cheap checks only: an image that must be decoded before it is written is decoded by its job, as a first stage.
  const check = deps.images.checkImage && deps.spoolDir
    ? await deps.images.checkImage(image, { spoolDir: deps.spoolDir, ...largestTarget(deviceIds, devices, deps, target) },
      (path, o) => deps.images.openImage(path, o))
    : { source: await deps.images.openImage(image) };
  if (check.prepare) return preparedSpecs(req, deviceIds, devices, deps, target, fileSize, check.prepare);
  const source = check.source;
  try {
    for (const id of deviceIds) checkFits(devices.get(id), familyOf(deps, id), target, source);
  } catch (e) {
    releaseSource(source);
    throw e;
  }
  const reopen = (): Promise<BlockSource> => deps.images.openImage(image);
  // Decode once, write many — only when every job starts now (a queued consumer would hold the others back).
  // Decode once, write many — among the jobs that start now; a queued consumer would hold the running ones back.
  const startable = deviceIds.length > 1 ? deps.startableNow(deviceIds) : [];
  const firstFor = new Map<string, BlockSource>();
  if (startable.length > 1) {
    try {
      const shared = deps.images.shareSource(source, startable.length);
      startable.forEach((id, i) => firstFor.set(id, shared[i] as BlockSource));
    } catch {
      // No shared decode for this source: each job reads the image itself.
    }
  }
  if (firstFor.size === 0) firstFor.set(deviceIds[0] as string, source);
  const planJson = JSON.stringify({ steps: [{ op: 'flash', ...targetFields(target), image }] });
  return deviceIds.map((deviceId) => {
    const first = firstFor.get(deviceId);
    const img = preopenedImage(image, first ?? source, reopen, first !== undefined);
    const steps: LoadedStep[] = [{ op: 'flash', target, image: img }];
    if (req.verify) steps.push({ op: 'verify', target, image: { name: image, location: image, open: reopen } });
    return {
      deviceId,
      target: `${targetText(target)} ← ${image}`,
      imagePath: image,
      imageFileSize: fileSize,
      imageBytes: source.size,
      steps,
      planJson,
      // A job that never ran leaves its pre-opened (or shared) source unread: let it go.
      release: async () => img.discard(),
      discardPreopened: () => img.discard(),
    };
  });
}

/**
 * Jobs for an image that needs a long pass before it is written: each job's first open runs it (one decode into the
 * spool for the whole batch, shown as the job's first stage), then checks the image fits that job's target; the spool
 * file is deleted when the last job of the batch has ended.
 */
function preparedSpecs(
  req: StartFlashRequest,
  deviceIds: string[],
  devices: Map<string, Device | undefined>,
  deps: ResolveDeps,
  target: Target,
  fileSize: number,
  prepared: PreparedImage,
): JobSpec[] {
  const image = req.image as string;
  const release = afterLast(deviceIds.length, () => prepared.release());
  const planJson = JSON.stringify({ steps: [{ op: 'flash', ...targetFields(target), image }] });
  return deviceIds.map((deviceId) => {
    const img: PlanImage = {
      name: image,
      location: image,
      open: async (o) => {
        const source = await prepared.open(o);
        try {
          checkFits(deps.registry.get(deviceId) ?? devices.get(deviceId), familyOf(deps, deviceId), target, source);
        } catch (e) {
          releaseSource(source);
          throw e;
        }
        return source;
      },
    };
    const steps: LoadedStep[] = [{ op: 'flash', target, image: img }];
    if (req.verify) steps.push({ op: 'verify', target, image: img });
    return { deviceId, target: `${targetText(target)} ← ${image}`, imagePath: image, imageFileSize: fileSize, steps, planJson, release };
  });
}

/** The spool's limit: the largest target of the batch when every device's is known (a bigger image fits none). */
function largestTarget(deviceIds: string[], devices: Map<string, Device | undefined>, deps: ResolveDeps, target: Target): { maxBytes?: number } {
  let most = 0;
  for (const id of deviceIds) {
    const device = devices.get(id);
    let size: number | undefined;
    if (device && 'partition' in target) {
      const p = findPartition(device, familyOf(deps, id), target.partition);
      size = p && p.size > 0 ? p.size : undefined;
    } else if (device && 'whole' in target && typeof device.info.capacity === 'number' && device.info.capacity > 0) {
      size = device.info.capacity;
    }
    if (size === undefined) return {};
    most = Math.max(most, size);
  }
  return most > 0 ? { maxBytes: most } : {};
}

async function planSpecs(
  req: StartFlashRequest,
  deviceIds: string[],
  devices: Map<string, Device | undefined>,
  deps: ResolveDeps,
): Promise<JobSpec[]> {
  const readers = deps.registry.families.flatMap((f) => (f.readPlan ? [f.readPlan.bind(f)] : []));
  const plan: LoadedPlan = await deps.images.loadPlan(req.plan as NonNullable<StartFlashRequest['plan']>, readers,
    deps.spoolDir !== undefined ? { spoolDir: deps.spoolDir } : {});
  try {
    if (!plan.steps.length) throw new FlashError('bad_request', `The plan "${plan.name}" has no steps.`);
    for (const id of deviceIds) checkPlan(plan.steps, devices.get(id), familyOf(deps, id));
  } catch (e) {
    await plan.close();
    throw e;
  }
  const release = refCounted(plan, deviceIds.length);
  const planJson = JSON.stringify(typeof req.plan === 'string' ? { path: req.plan, name: plan.name } : req.plan);
  const steps: LoadedStep[] = req.verify ? withVerify(plan.steps) : plan.steps;
  return deviceIds.map((deviceId) => ({
    deviceId,
    target: plan.name,
    steps,
    planJson,
    release,
    ...(plan.declaredBytes > 0 ? { imageBytes: plan.declaredBytes } : {}),
  }));
}

function withVerify(steps: LoadedStep[]): LoadedStep[] {
  const out: LoadedStep[] = [];
  for (const s of steps) {
    out.push(s);
    if (s.op === 'flash') out.push({ op: 'verify', target: s.target, image: s.image, ...(s.options ? { options: s.options } : {}) });
  }
  return out;
}

/** The family of a connected device (undefined while it is not connected yet: its job checks when it runs). */
function familyOf(deps: ResolveDeps, id: string): Family | undefined {
  return deps.registry.find(id)?.attached.family;
}

/** `partition`, `address` or neither (contract §7), as a Target. */
export function requestTarget(req: StartFlashRequest): Target {
  if (req.partition !== undefined && req.address !== undefined) {
    throw new FlashError('bad_request', 'Give `partition` or `address`, not both.');
  }
  if (req.partition !== undefined) {
    if (typeof req.partition !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(req.partition)) {
      throw new FlashError('bad_request', '`partition` must be a partition name such as `boot` or `system_a`.');
    }
    return { partition: req.partition };
  }
  if (req.address !== undefined) {
    const address = parseAddress(req.address);
    if (address === undefined) throw new FlashError('bad_request', '`address` must be a non-negative integer or a "0x…" string such as "0x10000".');
    return { address };
  }
  return { whole: true };
}

function targetFields(target: Target): Record<string, string | number> {
  if ('partition' in target) return { partition: target.partition };
  if ('address' in target) return { address: target.address };
  return {};
}

const KIND_WORDS: Record<TargetKind, string> = { partition: 'a `partition`', address: 'an `address`', whole: 'neither (the whole device)' };

function kindOf(target: Target): TargetKind {
  return 'partition' in target ? 'partition' : 'address' in target ? 'address' : 'whole';
}

/** The partition a name means on this device (the family may map `boot` to `boot_a`); null when it lists none. */
export function findPartition(device: Device | undefined, family: Family | undefined, name: string): PartitionInfo | undefined | null {
  if (!device?.partitions?.length) return null; // the device does not list partitions: nothing to check
  const parts = device.partitions;
  return family?.resolvePartition ? family.resolvePartition(name, parts) : parts.find((p) => p.name === name);
}

/** A target the device's family takes, naming a partition the device lists (contract §7). */
function checkTarget(device: Device | undefined, family: Family | undefined, target: Target): void {
  if (!device || !family) return;
  const kind = kindOf(target);
  if (!family.targets.includes(kind)) {
    const takes = family.targets.map((k) => KIND_WORDS[k]).join(' or ');
    throw new FlashError('bad_request', `Device ${device.id} (${family.title}) does not take ${KIND_WORDS[kind]}; it takes ${takes}.`);
  }
  if ('partition' in target && findPartition(device, family, target.partition) === undefined) {
    const known = (device.partitions ?? []).map((p) => p.name).slice(0, 12).join(', ');
    throw new FlashError('partition_not_found', `Device ${device.id} has no partition "${target.partition}" (it has: ${known}).`);
  }
}

/** An image larger than the partition (or the whole device) it goes to is refused before anything is written. */
function checkFits(device: Device | undefined, family: Family | undefined, target: Target, source: { size: number; description: string }): void {
  if (!device) return;
  if ('partition' in target) {
    const p = findPartition(device, family, target.partition);
    if (p && p.size > 0) checkImageFits(source, p.size, `partition ${p.name} of ${device.id}`);
  } else if ('whole' in target && typeof device.info.capacity === 'number' && device.info.capacity > 0) {
    const capacity = device.info.capacity;
    if (source.size > capacity) {
      throw new FlashError('image_too_large', `${source.description} expands to ${formatBytes(source.size)} (${source.size} bytes) but device ` +
        `${device.id} holds only ${formatBytes(capacity)} (${capacity} bytes): use a bigger one, or the image built for it.`);
    }
  }
}

/**
 * Every step of a plan against one device: targets its family takes, partitions it lists, images that fit, command
 * steps its family accepts. Partition checks stop at the first command that carries an image (e.g. a new partition
 * table): what follows is checked by the family when it runs.
 */
function checkPlan(steps: readonly LoadedStep[], device: Device | undefined, family: Family | undefined): void {
  let layoutKnown = true;
  for (const step of steps) {
    if (step.op === 'command') {
      if (!family) continue;
      const problem = family.checkCommand ? family.checkCommand(step.name, step.args) : `${family.title} takes no "${step.name}" step`;
      if (problem) throw new FlashError('bad_request', `The plan's step "${step.name}": ${problem}.`);
      const args = step.args as Record<string, unknown> | undefined;
      if (args && typeof args === 'object' && args.image !== undefined) layoutKnown = false;
      continue;
    }
    if (!layoutKnown || (step.op !== 'flash' && step.op !== 'erase' && step.op !== 'verify')) continue;
    checkTarget(device, family, step.target);
    if (step.op === 'flash' && step.image.declaredSize !== undefined) {
      checkFits(device, family, step.target, { size: step.image.declaredSize, description: step.image.name });
    }
  }
}

/** The image is an absolute path to a readable regular file. */
async function checkImageFile(path: string): Promise<number> {
  if (!isAbsolute(path)) throw new FlashError('bad_request', `The image path must be absolute (got "${path}").`);
  let s;
  try {
    s = await stat(path);
  } catch {
    throw new FlashError('image_not_found', `No image at ${path} — check the path.`);
  }
  if (s.isDirectory()) throw new FlashError('image_unreadable', `${path} is a directory, not an image file — pick a file inside it, or pass it as a plan.`);
  if (!s.isFile()) throw new FlashError('image_unreadable', `${path} is not a regular file.`);
  try {
    await access(path, constants.R_OK);
  } catch {
    throw new FlashError('image_unreadable', `${path} cannot be read by the station — check its permissions.`);
  }
  return s.size;
}
