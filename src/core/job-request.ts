// Turns a start_flash request into validated JobSpecs — devices, partitions and images are checked before any job exists.
import { stat, access } from 'node:fs/promises';
import { constants } from 'node:fs';
import { isAbsolute } from 'node:path';
import type { DeviceRegistry } from '../devices/registry.js';
import type { LoadedPlan, LoadedStep } from '../images/index.js';
import type { Device, PartitionInfo } from '../protocol/messages.js';
import { FlashError } from './errors.js';
import type { ImageBackend } from './image-backend.js';
import { describeSelector, matchesSelector } from './device-select.js';
import type { JobSpec } from './job-spec.js';
import { preopenedImage, refCounted, releaseSource } from './job-spec.js';
import type { StartFlashRequest } from './station-api.js';
import type { BlockSource } from '../contracts/source.js';

export interface ResolveDeps {
  registry: DeviceRegistry;
  images: ImageBackend;
  /** How long to wait for a device that is not connected (0 = refuse). */
  deviceWaitMs: number;
  /** Which of these devices would start at once (one decode feeds them; the others decode when they run). */
  startableNow(deviceIds: string[]): string[];
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
  const devices = new Map<string, Device | undefined>();
  for (const id of deviceIds) {
    const entry = deps.registry.find(id);
    if (!entry && waitMs === 0) {
      throw new FlashError('device_not_found', `No device ${id} is connected — check the cable, or pick one from the device list.`);
    }
    if (entry) await Promise.race([entry.ready, new Promise((r) => setTimeout(r, 20_000).unref())]);
    devices.set(id, entry ? deps.registry.get(entry.attached.device.id) : undefined);
  }

  const hasImage = req.image !== undefined || req.partition !== undefined;
  if (hasImage && req.plan !== undefined) throw new FlashError('bad_request', 'Give either `partition` and `image`, or `plan` — not both.');
  if (!hasImage && req.plan === undefined) throw new FlashError('bad_request', 'Say what to flash: `partition` and `image`, or `plan`.');

  if (hasImage) return { specs: await imageSpecs(req, deviceIds, devices, deps), waitMs };
  return { specs: await planSpecs(req, deviceIds, devices, deps), waitMs };
}

async function imageSpecs(
  req: StartFlashRequest,
  deviceIds: string[],
  devices: Map<string, Device | undefined>,
  deps: ResolveDeps,
): Promise<JobSpec[]> {
  const partition = req.partition;
  const image = req.image;
  if (typeof partition !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(partition)) {
    throw new FlashError('bad_request', '`partition` must be a partition name such as `boot` or `system_a`.');
  }
  if (typeof image !== 'string' || !image) throw new FlashError('bad_request', '`image` must be a file path.');
  for (const id of deviceIds) checkPartition(devices.get(id), partition);
  const fileSize = await checkImageFile(image);
  const source = await deps.images.openImage(image);
  try {
    for (const id of deviceIds) checkFits(devices.get(id), partition, source);
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
  const planJson = JSON.stringify({ steps: [{ op: 'flash', partition, image }] });
  return deviceIds.map((deviceId) => {
    const first = firstFor.get(deviceId);
    const img = preopenedImage(image, first ?? source, reopen, first !== undefined);
    const steps: LoadedStep[] = [{ op: 'flash', partition, image: img }];
    if (req.verify) steps.push({ op: 'verify', partition, image: { name: image, location: image, open: reopen } });
    return {
      deviceId,
      target: `${partition} ← ${image}`,
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

async function planSpecs(
  req: StartFlashRequest,
  deviceIds: string[],
  devices: Map<string, Device | undefined>,
  deps: ResolveDeps,
): Promise<JobSpec[]> {
  const plan: LoadedPlan = await deps.images.loadPlan(req.plan as NonNullable<StartFlashRequest['plan']>);
  try {
    if (!plan.steps.length) throw new FlashError('bad_request', `The plan "${plan.name}" has no steps.`);
    for (const id of deviceIds) {
      const device = devices.get(id);
      for (const step of plan.steps) {
        // After update_super the device's logical partitions are the new table's, and a device in the bootloader does
        // not list logical partitions at all: the driver checks those steps on fastbootd instead.
        if (step.op === 'update_super') break;
        if (step.op === 'flash' || step.op === 'erase' || step.op === 'verify') checkPartition(device, step.partition);
        if (step.op === 'flash' && step.image.declaredSize !== undefined) {
          checkFits(device, step.partition, { size: step.image.declaredSize, description: step.image.name });
        }
      }
    }
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
    if (s.op === 'flash') out.push({ op: 'verify', partition: s.partition, image: s.image });
  }
  return out;
}

/** The partition a name means on this device: exact, or its slot variants (`boot` → `boot_a`). */
export function findPartition(device: Device | undefined, name: string): PartitionInfo | undefined | null {
  if (!device?.partitions?.length) return null; // the device does not list partitions: nothing to check
  const parts = device.partitions;
  return parts.find((p) => p.name === name) ?? parts.find((p) => p.name === `${name}_a`) ?? parts.find((p) => p.name === `${name}_b`);
}

function checkPartition(device: Device | undefined, name: string): void {
  const found = findPartition(device, name);
  if (found === undefined && device) {
    const known = (device.partitions ?? []).map((p) => p.name).slice(0, 12).join(', ');
    throw new FlashError('partition_not_found', `Device ${device.id} has no partition "${name}" (it has: ${known}).`);
  }
}

function checkFits(device: Device | undefined, partition: string, source: { size: number; description: string }): void {
  const p = findPartition(device, partition);
  if (!p || !device || !(p.size > 0)) return;
  if (source.size > p.size) {
    throw new FlashError(
      'image_invalid',
      `${source.description} expands to ${source.size} bytes but partition ${p.name} of ${device.id} holds only ${p.size} bytes — choose the image built for this device.`,
    );
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
