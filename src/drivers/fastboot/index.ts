// The fastboot family: claims USB devices with the FF/42/03 interface and tcp:/udp: endpoints, probes them with
// getvar, runs every plan step over any of its transports (USB, TCP, UDP, simulators), and reads factory zips.
import { FlashError } from '../../contracts/errors.js';
import type { Candidate, DeviceDescription, Family, JobContext, PlanStep, Target } from '../../contracts/family.js';
import { isStreamLink, type DeviceLink, type Link } from '../../contracts/links.js';
import { targetText } from '../../contracts/plan.js';
import type { PartitionInfo } from '../../protocol/messages.js';
import { createWebUsbLink, type WebUsbLinkOptions } from '../../transports/usb.js';
import { createFastbootTcpLink, FASTBOOT_PORT } from '../../transports/fastboot-tcp.js';
import { createFastbootUdpLink } from '../../transports/fastboot-udp.js';
import { FASTBOOT_USB, findFastbootInterface } from '../../transports/fastboot-usb-interface.js';
import { annotate } from './client.js';
import { asFastbootCommand, checkFastbootCommand, fastbootCommandStage, type FastbootCommand } from './commands.js';
import { readFactoryPlan } from './factory-plan.js';
import { runFlash } from './flash.js';
import { DOWNLOAD_CAP, parseNumber } from './protocol.js';
import { openSession, type DriverTimeouts, type Session } from './session.js';
import { isRebootMode, runErase, runGetvar, runOem, runReboot, runRequire, runSetActive, REBOOT_COMMAND } from './steps.js';
import type { SlotChoice } from './targets.js';
import { runUpdateSuper } from './update-super.js';
import { infoFrom, partitionsFrom } from './variables.js';
import { runVerify } from './verify.js';

export { FastbootClient } from './client.js';
export type { DriverTimeouts } from './session.js';
export { FASTBOOT_PORT };

export const DEFAULT_TIMEOUTS: DriverTimeouts = { commandMs: 30_000, writeMs: 300_000, rebootWaitMs: 90_000 };

/** Variables asked one by one when a device does not answer `getvar:all`. */
const BASIC_VARS = ['product', 'serialno', 'max-download-size', 'secure', 'unlocked', 'current-slot', 'slot-count', 'version-bootloader', 'version-baseband', 'is-userspace'];
const SLOTS = ['a', 'b', 'all', 'current', 'other'];

export interface FastbootFamilyOptions {
  timeouts?: Partial<DriverTimeouts>;
  /** Options of the USB links it builds (transfer size, in-flight count, timeouts). */
  usb?: WebUsbLinkOptions;
  /** Network links: deadline to connect (default 2 s) and for answers once connected (default 30 s). */
  network?: { connectTimeoutMs?: number; timeoutMs?: number };
  /** Bound of one probe (default 15 s); the registry's own bound and the signal apply too. */
  probeTimeoutMs?: number;
}

export function createFastbootFamily(options: FastbootFamilyOptions = {}): Family<DeviceLink> {
  const t: DriverTimeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  return {
    protocol: 'fastboot',
    title: 'Android fastboot',
    targets: ['partition'],

    match(candidate: Candidate): number | undefined {
      if (candidate.kind === 'network') return 10;
      if (candidate.kind !== 'usb') return undefined;
      try {
        return findFastbootInterface(candidate.device) ? 10 : undefined;
      } catch {
        return undefined;
      }
    },

    connect(candidate: Candidate): DeviceLink {
      return connectCandidate(candidate, options);
    },

    async probe(link: DeviceLink, _candidate: Candidate, signal: AbortSignal): Promise<DeviceDescription> {
      const bounded = AbortSignal.any([signal, AbortSignal.timeout(options.probeTimeoutMs ?? 15_000)]);
      return describe(link, t, bounded);
    },

    async run(link: DeviceLink, step: PlanStep, ctx: JobContext): Promise<void> {
      if (ctx.signal.aborted) throw new FlashError('cancelled', 'Cancelled');
      const session = await openSession(link, t, ctx.signal);
      const saved = session.client.log;
      session.client.log = (level, text) => ctx.log(level, text);
      try {
        await session.exclusive(() => runStep(session, step, ctx));
      } catch (e) {
        if (ctx.signal.aborted) throw new FlashError('cancelled', 'Cancelled', { cause: e });
        throw annotate(e, `step ${stepName(step)}`);
      } finally {
        session.client.log = saved;
      }
    },

    checkCommand: checkFastbootCommand,
    commandStage: fastbootCommandStage,
    resolvePartition,
    readPlan: readFactoryPlan,
  };
}

/** The partition a name means on this device: exact, or its slot variants (`boot` → `boot_a`). */
export function resolvePartition(name: string, parts: readonly PartitionInfo[]): PartitionInfo | undefined {
  return parts.find((p) => p.name === name) ?? parts.find((p) => p.name === `${name}_a`) ?? parts.find((p) => p.name === `${name}_b`);
}

function connectCandidate(candidate: Candidate, options: FastbootFamilyOptions): DeviceLink {
  if (candidate.kind === 'usb') {
    const label = candidate.transport === 'sim' ? `simulated device ${candidate.serial ?? candidate.key}` : `USB device ${candidate.serial ?? candidate.key}${candidate.port ? ` at ${candidate.port}` : ''}`;
    return createWebUsbLink(candidate.device, FASTBOOT_USB, { label, ...options.usb, kind: candidate.transport === 'sim' ? 'sim' : 'usb' });
  }
  if (candidate.kind === 'network') {
    const port = candidate.netPort ?? FASTBOOT_PORT;
    const net = options.network ?? {};
    const timeoutMs = net.timeoutMs ?? 30_000;
    const connectTimeoutMs = net.connectTimeoutMs ?? 2000;
    return candidate.scheme === 'tcp'
      ? createFastbootTcpLink(candidate.host, port, { timeoutMs, connectTimeoutMs })
      : createFastbootUdpLink(candidate.host, port, { timeoutMs, connectAttempts: Math.max(1, Math.round(connectTimeoutMs / 500)) });
  }
  throw new FlashError('unsupported', `fastboot cannot reach a ${candidate.kind} device (${candidate.key})`);
}

async function describe(link: DeviceLink, t: DriverTimeouts, signal: AbortSignal): Promise<DeviceDescription> {
  const session = await openSession(link, t, signal);
  return session.exclusive(async () => {
    const client = session.client;
    let vars = await client.getvarAll(signal);
    if (!vars.has('product') && !vars.has('max-download-size')) {
      vars = new Map(vars);
      for (const name of BASIC_VARS) {
        const v = await client.getvar(name, signal);
        if (v !== undefined) vars.set(name, v);
      }
    }
    const rawMax = parseNumber(vars.get('max-download-size'));
    const maxDownload = rawMax === undefined ? undefined : Math.min(rawMax, DOWNLOAD_CAP);
    const partitions = partitionsFrom(vars);
    const product = vars.get('product');
    const serial = vars.get('serialno');
    const description: DeviceDescription = { info: infoFrom(vars, maxDownload) };
    if (product) description.name = product;
    if (serial) description.serial = serial;
    if (partitions.length) description.partitions = partitions;
    return description;
  });
}

function stepName(step: PlanStep): string {
  if (step.op === 'command') return step.name;
  if ('target' in step) return `${step.op} ${targetText(step.target)}`;
  return step.op;
}

/** Fastboot writes partitions only: a flash, verify or erase step must name one. */
function partitionOf(target: Target, op: string): string {
  if ('partition' in target) return target.partition;
  throw new FlashError('target_unsupported', `fastboot ${op} needs a partition, not ${targetText(target)}`);
}

function slotOf(step: { options?: Readonly<Record<string, string | number | boolean>> }): SlotChoice {
  const slot = step.options?.slot;
  if (slot === undefined) return undefined;
  if (typeof slot !== 'string' || !SLOTS.includes(slot)) throw new FlashError('bad_request', `slot must be one of ${SLOTS.join(', ')} (got ${String(slot)})`);
  return slot as SlotChoice;
}

async function runStep(session: Session, step: PlanStep, ctx: JobContext): Promise<void> {
  switch (step.op) {
    case 'flash':
      return runFlash(session, partitionOf(step.target, 'flash'), step.source, slotOf(step), ctx);
    case 'erase':
      return runErase(session, partitionOf(step.target, 'erase'), ctx);
    case 'verify':
      return runVerify(session, partitionOf(step.target, 'verify'), step.source, ctx);
    case 'reboot': {
      const mode = step.mode ?? 'system';
      if (!isRebootMode(mode)) throw new FlashError('bad_request', `fastboot reboots into ${Object.keys(REBOOT_COMMAND).join(', ')}, not "${mode}"`);
      await runReboot(session, mode, ctx);
      return;
    }
    case 'wait_for_device':
      await ctx.waitForDevice(step.timeoutMs);
      return;
    case 'command': {
      const problem = checkFastbootCommand(step.name, step.args);
      if (problem) throw new FlashError('bad_request', problem);
      return runCommand(session, asFastbootCommand(step.name, step.args), ctx);
    }
    default: {
      const unknown: never = step;
      throw new FlashError('internal', `unknown step ${JSON.stringify(unknown)}`);
    }
  }
}

async function runCommand(session: Session, command: FastbootCommand, ctx: JobContext): Promise<void> {
  switch (command.name) {
    case 'set_active':
      return runSetActive(session, command.args.slot, ctx);
    case 'oem':
      return runOem(session, command.args.command, ctx);
    case 'getvar':
      return runGetvar(session, command.args.name, command.args.expect, ctx);
    case 'require':
      return runRequire(session, command.args.name, command.args.values, ctx);
    case 'update_super':
      return runUpdateSuper(session, command.args, ctx);
    default: {
      const unknown: never = command;
      throw new FlashError('internal', `unknown fastboot command ${JSON.stringify(unknown)}`);
    }
  }
}

/** The fastboot family with default timeouts (30 s per answer, 5 min per flash/erase, 90 s to come back). */
export const fastbootFamily: Family<DeviceLink> = createFastbootFamily();

/** A stream link the fastboot family can talk over (every link it builds is one). */
export function asFastbootLink(link: Link): DeviceLink {
  if (!isStreamLink(link)) throw new FlashError('internal', 'fastboot talks over a byte stream only');
  return link;
}
