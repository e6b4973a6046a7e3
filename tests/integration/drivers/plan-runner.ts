// Runs a loaded plan step by step through the fastboot driver on simulated devices, as the job runner does, following
// the device across reboots; and the device-changing commands a simulator saw, for order checks.
import type { DeviceLink } from '../../../src/contracts/links.js';
import type { CandidateSink } from '../../../src/contracts/provider.js';
import { fastbootFamily } from '../../../src/drivers/fastboot/index.js';
import { createFastbootDriver } from './fastboot-driver.js';
import { openPlanStep, type LoadedPlan } from '../../../src/images/index.js';
import type { FastbootSimDevice } from '../../../src/sim/fastboot/index.js';
import { testContext } from './job-context.js';

const driver = createFastbootDriver({ commandMs: 5000, writeMs: 10_000, rebootWaitMs: 10_000 });

/** What a test sees of an offered candidate once the fastboot family claimed it. */
export interface Claimed {
  readonly device: { id: string; transport: string; port?: string };
  readonly link: DeviceLink;
}

export type RecordingSink = CandidateSink & {
  latest(id: string): Claimed | undefined;
  next(id: string, timeoutMs: number): Promise<Claimed>;
  /** Ids in the order they were withdrawn. */
  detached: string[];
};

/**
 * A candidate sink that lets the fastboot family claim what is offered (as the registry does), keeps the latest claim
 * per id (serial, else key) and lets a test wait for the next one.
 */
export function recordingSink(): RecordingSink {
  const latest = new Map<string, Claimed>();
  const idOfKey = new Map<string, string>();
  const waiters: Array<{ id: string; resolve: (a: Claimed) => void }> = [];
  const detached: string[] = [];
  return {
    detached,
    offer(c) {
      if (fastbootFamily.match(c) === undefined) return;
      const id = c.serial ?? c.key;
      idOfKey.set(c.key, id);
      const a: Claimed = { device: { id, transport: c.transport, ...(c.port ? { port: c.port } : {}) }, link: fastbootFamily.connect(c) };
      latest.set(id, a);
      for (const w of waiters.splice(0)) {
        if (w.id === id) w.resolve(a);
        else waiters.push(w);
      }
    },
    withdraw(key) {
      const id = idOfKey.get(key) ?? key;
      latest.delete(id);
      detached.push(id);
    },
    latest: (id) => latest.get(id),
    next: (id, timeoutMs) =>
      new Promise((resolve, reject) => {
        waiters.push({ id, resolve });
        setTimeout(() => reject(new Error(`${id} did not come back within ${timeoutMs} ms`)), timeoutMs).unref();
      }),
  };
}

/** Runs a loaded plan as the job runner does: each step through the driver, following the device across reboots. */
export async function runPlan(plan: LoadedPlan, id: string, sink: RecordingSink, stages: string[] = []): Promise<void> {
  let link = sink.latest(id)?.link as DeviceLink;
  for (const step of plan.steps) {
    // The reboot before it already waited for the same serial (the job runner's wait settles on the device as is).
    if (step.op === 'wait_for_device') continue;
    const ctx = testContext(async (ms) => {
      link = (await sink.next(id, ms)).link;
      return link;
    });
    try {
      await driver.run(link, await openPlanStep(step), ctx);
    } finally {
      stages.push(...ctx.stages);
    }
  }
}

/** The commands that change the device, in order (getvars and downloads left out; the sparse pieces of one image, one). */
export function writes(dev: FastbootSimDevice): string[] {
  return dev.commandLog
    .filter((c) => /^(flash|erase|update-super|resize-logical-partition|reboot|set_active)/.test(c))
    .filter((c, i, all) => !(c.startsWith('flash:') && all[i - 1] === c));
}
