// The fastboot Driver: describe a device and run every plan step over any transport (USB, TCP, UDP, simulators).
import type { DeviceLink } from '../../contracts/links.js';
import type { DeviceDescription, Driver, JobContext, PlanStep } from '../../core/types.js';
import { FlashError } from '../../contracts/errors.js';
import { annotate } from './client.js';
import { runFlash } from './flash.js';
import { DOWNLOAD_CAP, parseNumber } from './protocol.js';
import { openSession, type DriverTimeouts } from './session.js';
import { runErase, runGetvar, runOem, runReboot, runRequire, runSetActive } from './steps.js';
import { infoFrom, partitionsFrom } from './variables.js';
import { runUpdateSuper } from './update-super.js';
import { runVerify } from './verify.js';

export { FastbootClient } from './client.js';
export type { DriverTimeouts } from './session.js';

export const DEFAULT_TIMEOUTS: DriverTimeouts = { commandMs: 30_000, writeMs: 300_000, rebootWaitMs: 90_000 };

/** Variables asked one by one when a device does not answer `getvar:all`. */
const BASIC_VARS = ['product', 'serialno', 'max-download-size', 'secure', 'unlocked', 'current-slot', 'slot-count', 'version-bootloader', 'version-baseband', 'is-userspace'];

export function createFastbootDriver(timeouts: Partial<DriverTimeouts> = {}): Driver {
  const t: DriverTimeouts = { ...DEFAULT_TIMEOUTS, ...timeouts };
  return {
    protocol: 'fastboot',

    async describe(link: DeviceLink, signal?: AbortSignal): Promise<DeviceDescription> {
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
        throw annotate(e, `step ${step.op}${'partition' in step ? ` ${step.partition}` : ''}`);
      } finally {
        session.client.log = saved;
      }
    },
  };
}

async function runStep(session: Awaited<ReturnType<typeof openSession>>, step: PlanStep, ctx: JobContext): Promise<void> {
  switch (step.op) {
    case 'flash':
      return runFlash(session, step.partition, step.source, step.slot, ctx);
    case 'erase':
      return runErase(session, step.partition, ctx);
    case 'set_active':
      return runSetActive(session, step.slot, ctx);
    case 'reboot':
      await runReboot(session, step.target, ctx);
      return;
    case 'wait_for_device':
      await ctx.waitForDevice(step.timeoutMs);
      return;
    case 'oem':
      return runOem(session, step.command, ctx);
    case 'getvar':
      return runGetvar(session, step.name, step.expect, ctx);
    case 'require':
      return runRequire(session, step.name, step.values, ctx);
    case 'verify':
      return runVerify(session, step.partition, step.source, ctx);
    case 'update_super':
      return runUpdateSuper(session, step, ctx);
  }
}

/** The fastboot driver with default timeouts (30 s per answer, 5 min per flash/erase, 90 s to come back). */
export const fastbootDriver: Driver = createFastbootDriver();
