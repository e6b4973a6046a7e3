// The DFU family: USB DFU 1.1 devices and ST's DfuSe bootloaders, driven by our own host over WebUSB control transfers
// (docs/dfu.md). Alt settings are the device's partitions; DfuSe parts also take addresses.
import { FlashError, isFlashError, toFlashError } from '../../contracts/errors.js';
import type { Candidate, DeviceDescription, Family, JobContext, PlanStep, Target } from '../../contracts/family.js';
import type { Link, UsbLink } from '../../contracts/links.js';
import { isUsbLink } from '../../contracts/links.js';
import type { PartitionInfo } from '../../protocol/messages.js';
import { createUsbControlLink } from '../../transports/usb-control.js';
import { DFU_PROTOCOL_DFU, findDfuInterface } from './descriptors.js';
import { layoutSize, pagesFor, type DfuseLayout } from './dfuse-layout.js';
import {
  DEFAULT_BLOCK_RETRIES,
  DfuStatusError,
  dfuseLeave,
  dfuseWrite,
  downloadPlain,
  erasePage,
  hex,
  massErase,
  readUnprotect,
  retrying,
  setAddress,
  verifyDfuse,
  verifyPlain,
  type Moved,
} from './download.js';
import { checkElementsInLayout, checkSuffixMatches, type DfuseElement, type DfuseTarget } from './file.js';
import { bytesPayload, loadImage, type DfuImage, type Payload } from './image.js';
import { ERR_VENDOR } from './protocol.js';
import { DfuSession } from './session.js';

export interface DfuFamilyOptions {
  /** Retries of a refused block (CLRSTATUS in between) before the step fails; default 3. */
  retries?: number;
  /** Bound of one probe, ms (default 10000). */
  probeTimeoutMs?: number;
  /** How long a device may take to come back after DETACH or a reset, ms (default 15000). */
  reenumerateMs?: number;
  /** Raw images larger than this stream instead of being read whole (default BUFFER_LIMIT, 64 MiB). */
  bufferLimit?: number;
}

const COMMANDS = ['detach', 'leave', 'unprotect'] as const;
const STEP_OPTIONS = new Set(['force', 'leave', 'length', 'erase', 'chip', 'verify']);

/** One write or read-back, resolved against the device: plain DFU bytes to an alt, or DfuSe elements per alt. */
type Work =
  | { kind: 'plain'; alt: number; payload: Payload; what: string }
  | { kind: 'dfuse'; parts: Array<{ alt: number; layout: DfuseLayout; elements: DfuseElement[] }>; what: string };

export function createDfuFamily(options: DfuFamilyOptions = {}): Family<UsbLink> {
  const sessions = new WeakMap<object, DfuSession>();
  const retries = options.retries ?? DEFAULT_BLOCK_RETRIES;
  const reenumerateMs = options.reenumerateMs ?? 15_000;

  /** The session of the link's present enumeration (opened and claimed once, reused by the steps that follow). */
  async function sessionOf(link: UsbLink, signal: AbortSignal, label?: string): Promise<DfuSession> {
    const device = await link.open(signal);
    const known = sessions.get(device);
    if (known && !known.stale) return known;
    known?.retire();
    const s = await DfuSession.open(device, label ?? known?.label, signal);
    sessions.set(device, s);
    return s;
  }

  /**
   * The device in DFU mode for a job step: after a reset or manifestation the job waits for it to come back; a device
   * in runtime mode is detached first (DETACH, then its DFU-mode enumeration, bounded by `reenumerateMs`).
   */
  async function dfuMode(link: Link, ctx: JobContext): Promise<DfuSession> {
    let current: Link = link;
    for (let round = 0; ; round++) {
      if (!isUsbLink(current)) throw new FlashError('internal', 'the DFU family was handed a link that is not USB');
      let s: DfuSession;
      try {
        s = await sessionOf(current, ctx.signal);
      } catch (e) {
        if (!(isFlashError(e) && e.code === 'disconnected') || round >= 2) throw e;
        ctx.log('info', 'Waiting for the device to come back on the bus');
        current = await ctx.waitForDevice(reenumerateMs);
        continue;
      }
      if (!s.runtime) {
        // Back after DETACH or a reset: the station learns the alt settings the runtime enumeration did not show.
        if (round > 0) ctx.describe?.({ partitions: partitionsOf(s), info: { ...functionalInfo(s), mode: 'dfu' } });
        return s;
      }
      if (round >= 2) throw new FlashError('device_error', `${s.label} came back in runtime mode again after DFU DETACH — put it in DFU mode by hand (docs/dfu.md)`);
      ctx.stage('Switching the device to DFU mode');
      ctx.log('info', `${s.label} runs its application (DFU runtime mode): sending DFU DETACH`);
      await s.detach(ctx.signal);
      current = await ctx.waitForDevice(reenumerateMs);
    }
  }

  function checkOptions(step: PlanStep): void {
    if (!('options' in step) || !step.options) return;
    for (const k of Object.keys(step.options)) {
      if (!STEP_OPTIONS.has(k)) throw new FlashError('bad_request', `A DFU step takes the options ${[...STEP_OPTIONS].join(', ')}, not "${k}"`);
    }
  }

  /** The alt a target names; `whole` means the only alt (plain DFU) or the file's own addresses (DfuSe files). */
  function altOf(s: DfuSession, target: Target): number | undefined {
    if ('partition' in target) {
      const a = s.altByName(target.partition);
      if (!a) {
        throw new FlashError('partition_not_found', `${s.label} has no alt setting "${target.partition}" (it has ${s.names.join(', ')})`);
      }
      return a.alt;
    }
    return undefined;
  }

  /** Where a step's bytes go on this device, checked against the suffix and the memory layout before any byte moves. */
  function plan(s: DfuSession, image: DfuImage, target: Target, step: PlanStep, verb: 'Writing' | 'Verifying'): Work {
    const force = 'options' in step && step.options?.force === true;
    const alt = altOf(s, target);
    if (image.kind === 'stream') {
      if (s.dfuse) throw new FlashError('image_too_large', `${image.name} (${image.payload.size} bytes) is larger than any DfuSe part's memory`);
      if ('address' in target) throw new FlashError('bad_request', `${s.label} is a plain DFU device: it takes a partition (alt setting: ${s.names.join(', ')}), not an address`);
      return { kind: 'plain', alt: alt ?? onlyAlt(s), payload: image.payload, what: `${image.name} to ${s.names[alt ?? 0]}` };
    }
    const file = image.file;
    checkSuffixMatches(file.suffix, s.device, force);
    if (file.kind === 'dfuse') {
      if (!s.dfuse) {
        throw new FlashError('image_mismatch', `${image.name} is a DfuSe file (with addresses), but ${s.label} is a plain DFU ${dfuVersion(s)} device: use a raw or .dfu image for it`);
      }
      if ('address' in target) {
        throw new FlashError('bad_request', `${image.name} is a DfuSe file: it carries its own addresses; flash it without an address (or with the partition it names)`);
      }
      const targets: DfuseTarget[] = alt === undefined ? file.targets : file.targets.filter((t) => t.alt === alt);
      if (!targets.length) {
        throw new FlashError('partition_not_found', `${image.name} has no DfuSe target for alt ${alt} ("${s.names[alt ?? 0]}"); its targets are for alt ${file.targets.map((t) => t.alt).join(', ')}`);
      }
      const layouts = new Map<number, DfuseLayout>();
      s.layouts.forEach((l, i) => l && layouts.set(s.alts[i]!.alt, l));
      checkElementsInLayout(targets, layouts);
      const parts = targets.map((t) => ({ alt: t.alt, layout: layouts.get(t.alt)!, elements: t.elements }));
      return { kind: 'dfuse', parts, what: `${image.name} (${targets.reduce((n, t) => n + t.elements.length, 0)} DfuSe elements)` };
    }
    const bytes = file.payload;
    if ('address' in target) {
      if (!s.dfuse) throw new FlashError('bad_request', `${s.label} is a plain DFU device: it takes a partition (alt setting: ${s.names.join(', ')}), not an address`);
      const at = s.layoutAt(target.address);
      if (!at) throw new FlashError('target_unsupported', `Address ${hex(target.address)} is outside the memory of ${s.label} (${s.alts.map((a) => s.layoutText(a.alt)).join('; ')})`);
      const element = { address: target.address, data: bytes };
      checkElementsInLayout([{ alt: at.alt, name: null, elements: [element] }], at.layout);
      return { kind: 'dfuse', parts: [{ alt: at.alt, layout: at.layout, elements: [element] }], what: `${image.name} at ${hex(target.address)}` };
    }
    const chosen = alt ?? (s.dfuse ? undefined : onlyAlt(s));
    if (chosen === undefined) {
      throw new FlashError('bad_request', `${image.name} is a raw image: give the DfuSe address to ${verb === 'Writing' ? 'write' : 'read'} it at (e.g. 0x08000000) or a partition (${s.names.join(', ')})`);
    }
    const layout = s.dfuse ? s.layoutOf(chosen) : undefined;
    if (layout) {
      // A raw image to a DfuSe alt goes to the start of its memory, as dfu-util does without an address.
      const element = { address: layout.segments[0]!.start, data: bytes };
      checkElementsInLayout([{ alt: chosen, name: null, elements: [element] }], layout);
      return { kind: 'dfuse', parts: [{ alt: chosen, layout, elements: [element] }], what: `${image.name} at ${hex(element.address)}` };
    }
    return { kind: 'plain', alt: chosen, payload: bytesPayload(bytes), what: `${image.name} to ${s.names[s.alts.findIndex((a) => a.alt === chosen)]}` };
  }

  function onlyAlt(s: DfuSession): number {
    if (s.alts.length === 1) return s.alts[0]!.alt;
    throw new FlashError('bad_request', `${s.label} has ${s.alts.length} alt settings: name the partition to write (${s.names.join(', ')})`);
  }

  async function flash(s: DfuSession, work: Work, step: PlanStep, ctx: JobContext, moved: Moved): Promise<void> {
    if (work.kind === 'plain') {
      await s.selectAlt(work.alt, ctx.signal);
      ctx.stage(`Writing ${work.what}`);
      await downloadPlain(s, work.payload, ctx, moved, { retries });
      return;
    }
    const erase = !('options' in step) || step.options?.erase !== false;
    for (const part of work.parts) {
      await s.selectAlt(part.alt, ctx.signal);
      await dfuseWrite(s, part.layout, part.elements, ctx, moved, { retries, erase, what: work.what });
    }
    if ('options' in step && step.options?.leave === true) {
      const first = work.parts[0]!.elements[0]?.address ?? work.parts[0]!.layout.segments[0]!.start;
      await dfuseLeave(s, first, ctx);
    } else {
      await s.req.toIdle(); // ABORT: dfuDNLOAD-IDLE → dfuIDLE, ready for a read-back or the next step
    }
  }

  async function verify(s: DfuSession, work: Work, ctx: JobContext): Promise<void> {
    if (!s.functional.canUpload) {
      ctx.log('warn', `${s.label} cannot be read back (bitCanUpload is 0): ${work.what} was not verified`);
      return;
    }
    if (work.kind === 'plain') {
      await s.selectAlt(work.alt, ctx.signal);
      await verifyPlain(s, work.payload, ctx, work.what);
      return;
    }
    for (const part of work.parts) {
      await s.selectAlt(part.alt, ctx.signal);
      await verifyDfuse(s, part.elements, ctx, work.what);
    }
    ctx.log('info', `Read back ${work.what}: it matches`);
  }

  async function erase(s: DfuSession, target: Target, step: PlanStep, ctx: JobContext): Promise<void> {
    if (!s.dfuse) {
      throw new FlashError('unsupported', `${s.label} is a plain DFU device: it erases as it writes and takes no erase step`);
    }
    if ('whole' in target) {
      ctx.stage('Mass-erasing the flash');
      await retrying(s, ctx, 'the mass erase', retries, () => massErase(s));
      ctx.log('info', `${s.label}: mass erase done`);
      return;
    }
    let alt: number;
    let start: number;
    let end: number;
    if ('address' in target) {
      const len = 'options' in step ? step.options?.length : undefined;
      if (typeof len !== 'number' || !(len > 0)) throw new FlashError('bad_request', 'Erasing at an address needs a length (options.length, bytes)');
      const at = s.layoutAt(target.address);
      if (!at) throw new FlashError('target_unsupported', `Address ${hex(target.address)} is outside the memory of ${s.label}`);
      alt = at.alt;
      start = target.address;
      end = target.address + len;
    } else {
      alt = altOf(s, target)!;
      const layout = s.layoutOf(alt);
      if (!layout) throw new FlashError('unsupported', `Alt setting "${target.partition}" announces no memory layout to erase`);
      start = layout.segments[0]!.start;
      end = layout.segments[layout.segments.length - 1]!.end;
    }
    const layout = s.layoutOf(alt)!;
    const pages = pagesFor(layout, start, end);
    if (!pages) throw new FlashError('target_unsupported', `${hex(start)}–${hex(end)} is not all writable memory of ${s.layoutText(alt)}`);
    await s.selectAlt(alt, ctx.signal);
    ctx.stage(`Erasing ${pages.length} pages from ${hex(start)}`);
    for (const page of pages) {
      await ctx.gate.pass(ctx.signal);
      if (ctx.signal.aborted) throw new FlashError('cancelled', 'Cancelled');
      await retrying(s, ctx, `erasing page ${hex(page)}`, retries, () => erasePage(s, page));
    }
  }

  async function reboot(s: DfuSession, mode: string | undefined, ctx: JobContext): Promise<void> {
    if (mode !== undefined && mode !== 'leave' && mode !== 'system') {
      throw new FlashError('bad_request', `A DFU device reboots into its application ("leave"), not "${mode}"`);
    }
    if (s.dfuse) {
      const first = s.layouts.find((l) => l)?.segments[0]?.start;
      if (first === undefined) throw new FlashError('unsupported', `${s.label} announces no memory to start an application from`);
      await dfuseLeave(s, first, ctx);
      return;
    }
    ctx.log('info', `${s.label}: USB reset, so that it starts its application`);
    await s.usbReset();
  }

  async function command(s: DfuSession, name: string, args: unknown, ctx: JobContext): Promise<void> {
    switch (name) {
      case 'detach':
        return; // dfuMode() already brought it into DFU mode
      case 'leave': {
        const a = (args ?? {}) as { address?: unknown };
        if (!s.dfuse) return reboot(s, undefined, ctx);
        const address = typeof a.address === 'number' ? a.address : (s.layouts.find((l) => l)?.segments[0]?.start ?? 0);
        return dfuseLeave(s, address, ctx);
      }
      case 'unprotect': {
        if (!s.dfuse) throw new FlashError('unsupported', `${s.label} is not a DfuSe part: it has no read protection to remove`);
        ctx.stage('Removing read protection (mass erase)');
        await readUnprotect(s, ctx);
        await dfuMode(await ctx.waitForDevice(reenumerateMs), ctx);
        return;
      }
      default:
        throw new FlashError('bad_request', `The DFU family has no command "${name}" (it has ${COMMANDS.join(', ')})`);
    }
  }

  return {
    protocol: 'dfu',
    title: 'USB DFU',
    targets: ['partition', 'address', 'whole'],

    match(candidate: Candidate): number | undefined {
      if (candidate.kind !== 'usb') return undefined;
      let found: { protocol: number } | undefined;
      try {
        found = findDfuInterface(candidate.device);
      } catch {
        return undefined;
      }
      if (!found) return undefined;
      if (candidate.protocol === 'dfu') return 100;
      return found.protocol === DFU_PROTOCOL_DFU ? 60 : 20;
    },

    connect(candidate: Candidate): UsbLink {
      if (candidate.kind !== 'usb') throw new FlashError('internal', `the DFU family cannot connect a ${candidate.kind} candidate`);
      const label = candidate.transport === 'sim' ? `simulated DFU device ${candidate.serial ?? candidate.key}` : undefined;
      return createUsbControlLink(candidate.device, label === undefined ? {} : { label });
    },

    async probe(link: UsbLink, candidate: Candidate, signal: AbortSignal): Promise<DeviceDescription> {
      const ms = options.probeTimeoutMs ?? 10_000;
      const bound = AbortSignal.any([signal, AbortSignal.timeout(ms)]);
      try {
        const label = candidate.transport === 'sim' ? `simulated DFU device ${candidate.serial ?? candidate.key}` : undefined;
        const s = await sessionOf(link, bound, label);
        return await describe(s, candidate, bound);
      } catch (e) {
        if (bound.aborted && !signal.aborted) throw new FlashError('timeout', `No DFU answer within ${ms / 1000} s — replug the device`);
        throw toFlashError(e, 'device_rejected');
      }
    },

    async run(link: UsbLink, step: PlanStep, ctx: JobContext): Promise<void> {
      if (ctx.signal.aborted) throw new FlashError('cancelled', 'Cancelled');
      if (step.op === 'wait_for_device') return;
      checkOptions(step);
      const s = await dfuMode(link, ctx);
      const moved: Moved = { done: 0, total: 0 };
      try {
        switch (step.op) {
          case 'flash': {
            const work = plan(s, await loadImage(step.source, ctx.signal, options.bufferLimit), step.target, step, 'Writing');
            moved.total = work.kind === 'plain' ? work.payload.size : work.parts.reduce((n, p) => n + p.elements.reduce((m, e) => m + e.data.length, 0), 0);
            await flash(s, work, step, ctx, moved);
            return;
          }
          case 'verify': {
            const work = plan(s, await loadImage(step.source, ctx.signal, options.bufferLimit), step.target, step, 'Verifying');
            await verify(s, work, ctx);
            return;
          }
          case 'erase':
            return await erase(s, step.target, step, ctx);
          case 'reboot':
            return await reboot(s, step.mode, ctx);
          case 'command':
            return await command(s, step.name, step.args, ctx);
        }
      } catch (e) {
        if (ctx.signal.aborted) {
          await s.settle();
          const where = moved.total ? ` after ${moved.done} of ${moved.total} bytes` : '';
          const left = s.stale ? 'the device left the bus' : 'the device was left in dfuIDLE';
          throw new FlashError('cancelled', `Cancelled${where}; ${left}${moved.done ? ', holding an incomplete image: flash it again before use' : ''}`, { cause: e });
        }
        const err = toFlashError(e, 'device_error');
        if (err.code !== 'disconnected') await s.settle();
        if (err.code === 'disconnected' && moved.total) {
          throw new FlashError('disconnected', `${err.message} (after ${moved.done} of ${moved.total} bytes)`, { cause: e, transient: true, detail: err.detail ?? `byte offset ${moved.done}` });
        }
        throw err;
      }
    },

    checkCommand(name: string, args: unknown): string | undefined {
      if (!(COMMANDS as readonly string[]).includes(name)) return `the DFU family has no command "${name}" (it has ${COMMANDS.join(', ')})`;
      if (name === 'leave' && args !== undefined) {
        const a = args as { address?: unknown };
        if (typeof a !== 'object' || a === null || (a.address !== undefined && typeof a.address !== 'number')) return 'leave takes { "address": NUMBER } or nothing';
      }
      return undefined;
    },

    commandStage(name: string): string | undefined {
      return name === 'detach' ? 'Switching to DFU mode' : name === 'leave' ? 'Leaving DFU mode' : name === 'unprotect' ? 'Removing read protection' : undefined;
    },
  };

  async function describe(s: DfuSession, candidate: Candidate, signal: AbortSignal): Promise<DeviceDescription> {
    const device = s.device;
    const info = functionalInfo(s);
    const name = device.productName || (s.dfuse ? 'DfuSe bootloader' : 'USB DFU device');
    const serial = device.serialNumber ?? undefined;
    if (s.runtime) {
      info.alts = s.alts.length;
      // Named in the spec (`--sim dfu:…`, a `dfu` protocol): switch it to DFU mode now; it re-enumerates and is probed
      // again. A device nobody named is left running its application until a job asks for it.
      if (candidate.protocol === 'dfu') {
        await s.detach(signal);
        info.detached = true;
      }
      return { name, ...(serial ? { serial } : {}), info };
    }
    const st = await s.req.getStatus(signal);
    info.poll_timeout_ms = st.pollTimeout;
    const partitions = partitionsOf(s);
    if (s.dfuse) {
      const first = s.layouts.findIndex((l) => l);
      if (first >= 0) {
        info.layout = s.alts[first]!.name;
        info.read_protected = await readProtected(s, s.layouts[first]!.segments[0]!.start, signal);
      }
    }
    return { name, ...(serial ? { serial } : {}), partitions, info };
  }

  /** A DfuSe part with read protection refuses SET_ADDRESS with errVENDOR; the error is cleared again. */
  async function readProtected(s: DfuSession, address: number, signal: AbortSignal): Promise<boolean> {
    try {
      signal.throwIfAborted();
      await setAddress(s, address);
      await s.req.abort(signal);
      return false;
    } catch (e) {
      if (e instanceof DfuStatusError && e.status.status === ERR_VENDOR) {
        await s.req.toIdle();
        return true;
      }
      await s.req.toIdle().catch(() => undefined);
      if (e instanceof DfuStatusError) return false;
      throw e;
    }
  }
}

/** What the descriptors say, without I/O: mode, version, DfuSe, transfer size, attributes, USB ids. */
function functionalInfo(s: DfuSession): DeviceDescription['info'] {
  const f = s.functional;
  return {
    mode: s.runtime ? 'runtime' : 'dfu',
    dfu_version: dfuVersion(s),
    dfuse: s.dfuse,
    transfer_size: f.transferSize,
    can_upload: f.canUpload,
    manifestation_tolerant: f.manifestationTolerant,
    will_detach: f.willDetach,
    detach_timeout_ms: f.detachTimeoutMs,
    vendorId: s.device.vendorId,
    productId: s.device.productId,
  };
}

/** The alt settings as partitions; a DfuSe alt's size is its layout's. */
function partitionsOf(s: DfuSession): PartitionInfo[] {
  return s.alts.map((_, i) => ({ name: s.names[i]!, size: s.layouts[i] ? layoutSize(s.layouts[i]) : 0 }));
}

function dfuVersion(s: DfuSession): string {
  const v = s.functional.version;
  return `${(v >> 8).toString(16)}.${(v & 0xff).toString(16).padStart(2, '0')}`;
}
