// The block family: SD cards and USB sticks (and loop devices named with --block-device), written whole and read back.
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { BlockCandidate, Candidate, DeviceDescription, Family, JobContext, PlanStep } from '../../contracts/family.js';
import type { BlockIo, BlockLink } from '../../contracts/links.js';
import type { BlockSource } from '../../contracts/source.js';
import { FlashError, toFlashError } from '../../contracts/errors.js';
import { formatBytes } from '../../protocol/units.js';
import { blockError, createBlockLink } from '../../transports/block-io.js';
import { HelperPool, writeAccess } from '../../transports/block-helper.js';
import { assertNotSystem, diskAt, diskPresent, type DiskInfo } from './disks.js';
import { unmountDisk, type Unmounter } from './unmount.js';
import { DiskWriter, type WriteOptions, type WriteReport } from './write.js';
import { verifyRegions, type VerifyOptions } from './verify.js';
import { compareWithImage } from './compare.js';

export { parseLsblk, listDisks, diskAt, SYSTEM_MOUNTS, type DiskInfo } from './disks.js';

export interface BlockFamilyOptions {
  write?: WriteOptions;
  /** Unmount commands (tests); default udisks2 where it answers, else umount. */
  unmounter?: Unmounter;
}

/** One helper pool per helper path: opens of one batch share one elevated helper (one password prompt). */
const pools = new Map<string, HelperPool>();
function poolFor(helper: string): HelperPool {
  let pool = pools.get(helper);
  if (!pool) pools.set(helper, (pool = new HelperPool(helper)));
  return pool;
}

/** Whether a link can write through the privilege helper (made for a candidate that names one). */
const elevated = (link: BlockLink): boolean => (link as BlockLink & { elevated?: unknown }).elevated === true;

/** The path a block link writes to (links made by createBlockLink carry it). */
function linkPath(link: BlockLink): string {
  const p = (link as BlockLink & { path?: unknown }).path;
  if (typeof p !== 'string') throw new FlashError('internal', 'this block link does not say which disk it opens');
  return p;
}

function describeCandidate(c: BlockCandidate): DeviceDescription {
  const label = [c.vendor, c.model].filter(Boolean).join(' ');
  const info: DeviceDescription['info'] = { path: c.path, capacity: c.size, removable: c.removable };
  if (c.bus) info.bus = c.bus;
  if (c.vendor) info.vendor = c.vendor;
  if (c.model) info.model = c.model;
  if (c.mountpoints.length) info.mountpoints = c.mountpoints.join(', ');
  if (c.system) info.protected = true;
  return { name: `${label || basename(c.path)} (${formatBytes(c.size)})`, ...(c.serial ? { serial: c.serial } : {}), info };
}

/** What a failed or cancelled write left on the disk, in words. */
function leftState(r: WriteReport | undefined): string {
  if (!r?.touched) return 'the disk is unchanged';
  return 'the disk holds a partial image and no partition table (its first MiB is zeros): flash it again before using it';
}

export function createBlockFamily(options: BlockFamilyOptions = {}): Family<BlockLink> {
  return {
    protocol: 'block',
    title: 'Disk (SD card, USB stick)',
    targets: ['whole'],
    match(candidate: Candidate) {
      return candidate.kind === 'block' ? 100 : undefined;
    },
    connect(candidate: Candidate) {
      if (candidate.kind !== 'block') throw new FlashError('internal', `the block family cannot connect a ${candidate.kind} candidate`);
      return createBlockLink(candidate.path, candidate.helper ? poolFor(candidate.helper) : undefined);
    },
    probe(_link: BlockLink, candidate: Candidate, signal: AbortSignal) {
      signal.throwIfAborted();
      if (candidate.kind !== 'block') return Promise.reject(new FlashError('device_rejected', 'not a disk'));
      return Promise.resolve(describeCandidate(candidate));
    },
    async run(link: BlockLink, step: PlanStep, ctx: JobContext) {
      if (step.op !== 'flash' && step.op !== 'verify') {
        throw new FlashError('unsupported', `a disk takes only flash steps (the whole image, read back after writing) and verify steps, not ${step.op}`);
      }
      if (!('whole' in step.target)) {
        throw new FlashError('bad_request', 'a disk is written whole: give no partition and no address');
      }
      if (step.op === 'verify') await verifyDisk(link, step.source, ctx);
      else await flashDisk(link, step.source, step.options?.verify !== false, ctx, options);
    },
  };
}

async function flashDisk(link: BlockLink, source: BlockSource, verify: boolean, ctx: JobContext, options: BlockFamilyOptions): Promise<void> {
  const path = linkPath(link);
  ctx.stage(`Checking ${path}`);
  const st = await stat(path).catch((e: unknown) => {
    throw blockError(e, path, 'open');
  });
  const tooSmall = (capacity: number): FlashError =>
    new FlashError('image_too_large', `the image (${formatBytes(source.size)}, ${source.size} bytes) is larger than ${path} (${formatBytes(capacity)}, ${capacity} bytes): use a bigger card`);
  let disk: DiskInfo | undefined;
  if (st.isBlockDevice()) {
    disk = await diskAt(path);
    assertNotSystem(disk);
    if (source.size > disk.size) throw tooSmall(disk.size);
    if ((await writeAccess(path, elevated(link))) === 'helper') {
      ctx.log('info', `This station may not write ${path} itself: writing through the privilege helper (pkexec asks for an administrator's password once per batch)`);
    }
    if (disk.mounted.length) {
      ctx.stage(`Unmounting ${path}`);
      await unmountDisk(disk, (m) => ctx.log('info', m), () => diskAt(path), options.unmounter);
    }
  }
  ctx.signal.throwIfAborted();
  const io: BlockIo = await link.open({ write: true, direct: true, exclusive: true }, ctx.signal);
  let writer: DiskWriter | undefined;
  try {
    if (source.size > io.size) throw tooSmall(io.size);
    if (!io.direct) ctx.log('info', `${path} does not take direct I/O: writing through the page cache, with fsync`);
    ctx.stage(`Writing ${source.description} to ${path}`);
    writer = new DiskWriter(io, source, ctx, { present: () => diskPresent(path), ...options.write });
    const report = await writer.run();
    const reread = await io.rereadPartitions().catch(() => false);
    ctx.log('info', `Wrote ${formatBytes(report.dataBytes)} of data and ${formatBytes(report.zeroBytes)} of zeros` +
      (report.skippedBytes ? `, left ${formatBytes(report.skippedBytes)} unmapped by the bmap alone` : '') +
      (disk ? `; the kernel ${reread ? 'reread' : 'did not reread'} the partition table` : ''));
    if (verify) {
      await verifyRegions(io, report.regions, readBackOptions(ctx, `Verifying ${path}`));
      ctx.log('info', `Read back ${path} with direct I/O: it matches what was written`);
    }
  } catch (e) {
    await writer?.settle();
    const err = ctx.signal.aborted ? new FlashError('cancelled', 'Cancelled', { cause: e }) : toFlashError(e, 'device_error');
    const state = err.code === 'verify_mismatch' ? 'the disk holds the whole image, but it does not read back as written' : leftState(writer?.report);
    ctx.log(err.code === 'cancelled' ? 'info' : 'error', `${path}: ${state}`);
    if (err.code === 'cancelled') throw new FlashError('cancelled', 'Cancelled', { cause: e, detail: state });
    throw err;
  } finally {
    await io.close();
  }
}

/** Options of a read-back pass: cancel, pause and throttle through the job, and its stage as `label: N %`. */
function readBackOptions(ctx: JobContext, label: string): VerifyOptions {
  ctx.stage(`${label}: 0 %`);
  let shown = 0;
  return {
    signal: ctx.signal,
    gate: () => ctx.gate.pass(ctx.signal),
    progress: (done, total) => {
      const pct = Math.floor((done / Math.max(1, total)) * 100);
      if (pct > shown) {
        shown = pct;
        ctx.stage(`${label}: ${pct} %`);
      }
    },
  };
}

/** A verify step: the disk read back with O_DIRECT and compared with the image itself (not with what was written). */
async function verifyDisk(link: BlockLink, source: BlockSource, ctx: JobContext): Promise<void> {
  const path = linkPath(link);
  const options = readBackOptions(ctx, `Verifying ${path} against the image`);
  const io = await link.open({ write: false, direct: true, exclusive: true }, ctx.signal);
  try {
    await compareWithImage(io, source, options);
    ctx.log('info', `${path} holds the image (read back with direct I/O, compared with the image itself)`);
  } finally {
    await io.close();
  }
}

export const blockFamily = createBlockFamily();
