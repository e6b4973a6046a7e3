/**
 * The seams between the station core, images, drivers and transports (architecture.md). Plain types only:
 * every layer below the server imports these and nothing of each other's internals.
 */
import type { Device, DeviceProtocol, LogLevel, PartitionInfo } from '../protocol/messages.js';

import type { BlockSource } from '../contracts/source.js';
import type { DeviceLink } from '../contracts/links.js';

// ---------------------------------------------------------------- plans and jobs

/** A resolved plan step as a driver runs it. Images are already opened as BlockSources. */
export type PlanStep =
  /** `slot: 'other'` (additive): the slot that is not current, as `fastboot update` writes system_other.img; skipped without slots. */
  | { op: 'flash'; partition: string; source: BlockSource; slot?: 'a' | 'b' | 'all' | 'current' | 'other' }
  | { op: 'erase'; partition: string }
  | { op: 'set_active'; slot: 'a' | 'b' }
  | { op: 'reboot'; target: 'system' | 'bootloader' | 'fastboot' | 'recovery' }
  | { op: 'wait_for_device'; timeoutMs: number }
  | { op: 'oem'; command: string }
  | { op: 'getvar'; name: string; expect?: string }
  /** Check a factory image's `require` lines against the device before anything is written. */
  | {
      op: 'require';
      name: string;
      values: string[];
      /** Additive: only when the device's `product` is this (android-info.txt `require-for-product:X`). */
      forProduct?: string;
    }
  | { op: 'verify'; partition: string; source: BlockSource }
  /**
   * Additive: rewrite the logical-partition table of `super` from a liblp `super_empty.img` (AOSP `fastboot update`).
   * The driver switches to userspace fastbootd first when needed, then sends `update-super:<name>[:wipe]`, then
   * resizes to 0 each of `resetLogical` that is a logical partition (AOSP does so for its OS images before writing
   * any, for a compact allocation). The image is a few KiB, so the plan carries its bytes.
   */
  | {
      op: 'update_super';
      image: Uint8Array;
      location: string;
      wipe: boolean;
      resetLogical?: Array<{ partition: string; slot?: 'other' }>;
    };

export interface JobContext {
  readonly jobId: string;
  readonly deviceId: string;
  /** Cancel. Drivers check it between transfers and stop cleanly, leaving the device responsive. */
  readonly signal: AbortSignal;
  /** Pause: awaited between transfers. */
  readonly gate: { pass(signal?: AbortSignal): Promise<void> };
  /** Bandwidth limit, shared per job and station-wide. Call before sending `n` data bytes. */
  readonly throttle: { take(n: number, signal?: AbortSignal): Promise<void> };
  /** Data bytes (not fills, not skips) that reached the device → ProgressMeter. */
  moved(n: number): void;
  /** Set the human stage sentence, e.g. `Writing system partition (2/3)`. */
  stage(text: string): void;
  log(level: LogLevel, message: string): void;
  /** After a reboot: wait until the same device (same serial) is back and return its link. */
  waitForDevice(timeoutMs: number): Promise<DeviceLink>;
}

/** What a driver learns from a device. */
export interface DeviceDescription {
  name?: string;
  serial?: string;
  partitions?: PartitionInfo[];
  info: Record<string, string | number | boolean>;
}

export interface Driver {
  readonly protocol: DeviceProtocol;
  describe(link: DeviceLink, signal?: AbortSignal): Promise<DeviceDescription>;
  run(link: DeviceLink, step: PlanStep, ctx: JobContext): Promise<void>;
}

// ---------------------------------------------------------------- devices

/** A device as the registry holds it: what the wire shows, plus how to reach and drive it. */
export interface AttachedDevice {
  /** Wire view without `state` (the registry owns state). */
  readonly device: Omit<Device, 'state'>;
  readonly driver: Driver;
  readonly link: DeviceLink;
}

/** A source of devices: USB hotplug, serial listing, network targets, simulators. */
export interface DeviceProvider {
  readonly name: string;
  start(sink: DeviceSink): Promise<void>;
  stop(): Promise<void>;
}

export interface DeviceSink {
  attach(device: AttachedDevice): void;
  detach(deviceId: string): void;
}
