// Every plan step other than flash and verify: erase, set_active, reboot (and wait), oem, getvar, require.
import { FlashError, isFlashError } from '../../contracts/errors.js';
import type { JobContext } from '../../contracts/family.js';
import { isStreamLink, type DeviceLink } from '../../contracts/links.js';
import { requirementMet } from './android-info.js';
import { checkPartitionName } from './protocol.js';
import type { Session } from './session.js';
import { targetsFor } from './targets.js';

export async function runErase(session: Session, partition: string, ctx: JobContext): Promise<void> {
  checkPartitionName(partition);
  const { targets } = await targetsFor(session, partition, undefined, ctx.signal);
  for (const t of targets) {
    ctx.stage(`Erasing ${t}`);
    await session.client.okay(`erase:${t}`, { signal: ctx.signal, timeoutMs: session.timeouts.writeMs });
  }
}

export async function runSetActive(session: Session, slot: 'a' | 'b', ctx: JobContext): Promise<void> {
  ctx.stage(`Making slot ${slot} active`);
  await session.client.okay(`set_active:${slot}`, { signal: ctx.signal });
}

export const REBOOT_COMMAND = {
  system: 'reboot',
  bootloader: 'reboot-bootloader',
  fastboot: 'reboot-fastboot',
  recovery: 'reboot-recovery',
} as const;

/**
 * Reboots; into the bootloader or fastbootd it waits until the same device is back and answers again, and returns
 * the link it came back on (undefined for `system` and `recovery`, which it does not wait for).
 */
export type RebootMode = keyof typeof REBOOT_COMMAND;

export function isRebootMode(mode: string): mode is RebootMode {
  return Object.hasOwn(REBOOT_COMMAND, mode);
}

export async function runReboot(session: Session, target: RebootMode, ctx: JobContext): Promise<DeviceLink | undefined> {
  const command = REBOOT_COMMAND[target];
  ctx.stage(target === 'system' ? 'Rebooting' : `Rebooting into ${target}`);
  try {
    await session.client.okay(command, { signal: ctx.signal });
  } catch (e) {
    // Some bootloaders drop off the bus before their OKAY arrives: gone is as good as OKAY here.
    if (!(isFlashError(e) && e.code === 'disconnected')) throw e;
    ctx.log('info', `The device went away before confirming "${command}"; taking that as rebooting`);
  }
  // The device drops the connection as it reboots; a stale transport must not be reused.
  await session.transport.close().catch(() => undefined);
  if (target === 'bootloader' || target === 'fastboot') {
    ctx.stage(`Waiting for the device to come back in ${target === 'bootloader' ? 'the bootloader' : 'fastbootd'}`);
    const link = await ctx.waitForDevice(session.timeouts.rebootWaitMs);
    if (!isStreamLink(link)) throw new FlashError('internal', 'the device came back on a link fastboot cannot talk over');
    await link.open(ctx.signal);
    return link;
  }
  return undefined;
}

export async function runOem(session: Session, command: string, ctx: JobContext): Promise<void> {
  ctx.stage(`oem ${command}`);
  const value = await session.client.okay(`oem ${command}`, { signal: ctx.signal, timeoutMs: session.timeouts.writeMs });
  if (value) ctx.log('info', value);
}

export async function runGetvar(session: Session, name: string, expect: string | undefined, ctx: JobContext): Promise<void> {
  const value = await session.client.getvar(name, ctx.signal);
  ctx.log('info', `${name}: ${value ?? '(not reported)'}`);
  if (expect !== undefined && value !== expect) {
    throw new FlashError('requirement_failed', `The device reports ${name} = ${JSON.stringify(value ?? '')}, the plan expects ${JSON.stringify(expect)}`);
  }
}

export async function runRequire(session: Session, name: string, values: string[], ctx: JobContext): Promise<void> {
  const variable = name === 'board' ? 'product' : name;
  ctx.stage(`Checking ${variable}`);
  const actual = await session.client.getvar(variable, ctx.signal);
  if (actual === undefined) {
    throw new FlashError('requirement_failed', `The image requires ${variable} to be ${values.join(' or ')}, but the device does not report ${variable}; nothing was written`);
  }
  if (!requirementMet(values, actual)) {
    throw new FlashError(
      'requirement_failed',
      `The image requires ${variable} to be ${values.join(' or ')}, but this device reports ${JSON.stringify(actual)}; nothing was written`,
    );
  }
  ctx.log('info', `${variable} is ${actual}: OK`);
}
