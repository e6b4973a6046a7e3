// The human stage sentence for a plan step, e.g. `Writing system partition (2/3)` or `Writing 0x10000 (1/3)`.
import type { Family, Target } from '../contracts/family.js';
import { targetText } from '../contracts/plan.js';
import type { LoadedStep } from '../images/index.js';

/** `system partition`, `0x10000`, `the whole device`: never "partition" for an address. */
function where(target: Target): string {
  return 'partition' in target ? `${target.partition} partition` : targetText(target);
}

export function stageFor(step: LoadedStep, index: number, count: number, family?: Pick<Family, 'commandStage'>): string {
  const at = `(${index + 1}/${count})`;
  switch (step.op) {
    case 'flash':
      return `Writing ${where(step.target)} ${at}`;
    case 'verify':
      return `Verifying ${where(step.target)} ${at}`;
    case 'erase':
      return `Erasing ${where(step.target)} ${at}`;
    case 'reboot':
      // ESP's `hard` reset and STM32's `go` start the application the image holds.
      if (step.mode === 'hard' || step.mode === 'go') return `Starting the application ${at}`;
      return step.mode === undefined || step.mode === 'system' ? `Rebooting ${at}` : `Rebooting to ${step.mode} ${at}`;
    case 'wait_for_device':
      return `Waiting for the device ${at}`;
    case 'command':
      return `${family?.commandStage?.(step.name, step.args) ?? `Running ${step.name}`} ${at}`;
  }
}
