// `flash-station flash` arguments → a start_flash request with one target (contract §7), and the check of that target
// against what the device's family takes (Device.targets), so a wrong form is named before anything is sent.
import { resolve } from 'node:path';
import type { Device, StartFlashCommand, TargetKind } from '../protocol/messages.js';
import { parseSize } from '../protocol/units.js';

export type FlashRequest = Pick<StartFlashCommand, 'deviceId' | 'partition' | 'address' | 'image' | 'plan'> & { deviceId: string };

export interface FlashArgs {
  device?: string;
  plan?: string;
  address?: string;
  positionals: readonly string[];
}

const FORMS = '--device ID PARTITION IMAGE, --device ID --address ADDR IMAGE, --device ID IMAGE (whole device) or --device ID --plan FILE';

/** The request the arguments spell, or why they do not (a usage message). Paths are made absolute here. */
export function flashRequest(args: FlashArgs): { request: FlashRequest } | { usage: string } {
  const { device, plan, address, positionals } = args;
  // With nothing given, name everything flash needs at once rather than one piece per attempt.
  if (!device && !plan && address === undefined && positionals.length === 0) {
    return { usage: `give ${FORMS}; flash-station devices lists the IDs.` };
  }
  if (!device) return { usage: '--device ID is required (see flash-station devices).' };
  if (plan !== undefined) {
    if (positionals.length !== 0 || address !== undefined) return { usage: 'give either --plan PLAN_FILE or a target and IMAGE, not both.' };
    return { request: { deviceId: device, plan: resolve(plan) } };
  }
  if (address !== undefined) {
    if (positionals.length !== 1) return { usage: `--address ADDR takes exactly one IMAGE (got ${positionals.length} arguments).` };
    let value: number;
    try {
      value = parseSize(address, '--address');
    } catch {
      return { usage: `--address: "${address}" is not an address (use e.g. 0x10000, 65536 or 64K).` };
    }
    return { request: { deviceId: device, address: value, image: resolve(positionals[0]!) } };
  }
  if (positionals.length === 2) return { request: { deviceId: device, partition: positionals[0]!, image: resolve(positionals[1]!) } };
  if (positionals.length === 1) return { request: { deviceId: device, image: resolve(positionals[0]!) } };
  return { usage: positionals.length === 0 ? `give a target and IMAGE: ${FORMS}.` : `too many arguments (${positionals.length}); give ${FORMS}.` };
}

/** Which target a request names. */
export function targetOf(request: FlashRequest): TargetKind | 'plan' {
  if (request.plan !== undefined) return 'plan';
  if (request.partition !== undefined) return 'partition';
  if (request.address !== undefined) return 'address';
  return 'whole';
}

const SPELLING: Record<TargetKind, string> = {
  partition: 'PARTITION IMAGE',
  address: '--address ADDR IMAGE',
  whole: 'IMAGE (the whole device)',
};

/**
 * Why this device cannot take the request's target, in the CLI's words, or undefined when it can (or when the station
 * does not say what the device takes: the station then decides).
 */
export function targetProblem(device: Device | undefined, request: FlashRequest): string | undefined {
  const kind = targetOf(request);
  if (!device?.targets?.length || kind === 'plan' || device.targets.includes(kind)) return undefined;
  const takes = device.targets.map((t) => SPELLING[t]).join(', or ');
  const partitions = device.targets.includes('partition') && device.partitions?.length
    ? ` Its partitions: ${device.partitions.map((p) => p.name).join(', ')}.`
    : '';
  return `${device.id} (${device.protocol}) takes ${takes}, not ${SPELLING[kind]}.${partitions}`;
}
