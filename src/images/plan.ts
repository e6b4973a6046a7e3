// Flash plans: bundles (folder or zip with a manifest), manifests, Android factory images and inline plans.
import type { PlanStep } from '../core/types.js';
import type { PlanInput } from '../protocol/messages.js';
import { FlashError } from '../core/errors.js';
import type { LoadedPlan, LoadedStep } from './types.js';

/** Load a plan: a path to a bundle folder, bundle zip, manifest (.json/.yaml) or factory zip, or an inline plan. */
export async function loadPlan(input: string | PlanInput): Promise<LoadedPlan> {
  void input;
  throw new FlashError('internal', 'loadPlan is being implemented');
}

/** Open a loaded step's image (if any), giving the PlanStep a driver runs. Call once per step, when it runs. */
export async function openPlanStep(step: LoadedStep, signal?: AbortSignal): Promise<PlanStep> {
  if (step.op === 'flash') {
    const source = await step.image.open({ signal });
    return step.slot ? { op: 'flash', partition: step.partition, source, slot: step.slot } : { op: 'flash', partition: step.partition, source };
  }
  if (step.op === 'verify') return { op: 'verify', partition: step.partition, source: await step.image.open({ signal }) };
  return step;
}
