// The human stage sentence for a plan step, e.g. `Writing system partition (2/3)`.
import type { LoadedStep } from '../images/index.js';

export function stageFor(step: LoadedStep, index: number, count: number): string {
  const at = `(${index + 1}/${count})`;
  switch (step.op) {
    case 'flash':
      return `Writing ${step.partition} partition ${at}`;
    case 'verify':
      return `Verifying ${step.partition} partition ${at}`;
    case 'erase':
      return `Erasing ${step.partition} partition ${at}`;
    case 'set_active':
      return `Setting active slot ${step.slot} ${at}`;
    case 'reboot':
      return step.target === 'system' ? `Rebooting ${at}` : `Rebooting to ${step.target} ${at}`;
    case 'wait_for_device':
      return `Waiting for the device ${at}`;
    case 'oem':
      return `Running oem ${step.command} ${at}`;
    case 'getvar':
      return `Checking ${step.name} ${at}`;
    case 'require':
      return `Checking ${step.name} requirement ${at}`;
    case 'update_super':
      return `Updating the super partition table ${at}`;
  }
}
