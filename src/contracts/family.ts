/**
 * What a device family is to the rest of the station: it claims candidates that providers found (cheaply, from
 * descriptors), probes a claimed one over its link (bounded, cancellable), and runs plan steps on it. The core,
 * server, client, UI and CLI know families only through this interface and the one registration file
 * (src/families.ts).
 */
import type { DeviceProtocol, DeviceTransport, LogLevel, PartitionInfo, TargetKind } from '../protocol/messages.js';
import type { BlockLink, DeviceLink, Link, SerialLineSettings, Transport, UsbLink } from './links.js';
import type { LoadedPlan } from './plan.js';
import type { BlockSource } from './source.js';
import type { WebUsbDeviceLike } from './webusb.js';

// ---------------------------------------------------------------- candidates

interface CandidateBase {
  /** Stable key of the physical place (USB port path, serial path, host:port, block path); the id fallback. */
  readonly key: string;
  /** Wire transport of the device once attached (`sim` for simulators). */
  readonly transport: DeviceTransport;
  /** Where it is plugged in, as `Device.port`. */
  readonly port?: string;
  /** A serial number the descriptors report (not yet proven unique). */
  readonly serial?: string;
  /** Set when the user named the family (`--serial-port PATH?protocol=esp`, `--connect`, `--sim esp:…`). */
  readonly protocol?: DeviceProtocol;
  /**
   * Additive. Why this device must never be written, e.g. `holds /` (a system disk, contract §7). Such a candidate is
   * never listed, and a `start_flash` naming it (by key, port or serial) is refused with `device_protected`.
   */
  readonly protected?: string;
}

export interface UsbCandidate extends CandidateBase {
  readonly kind: 'usb';
  readonly vendorId: number;
  readonly productId: number;
  readonly device: WebUsbDeviceLike;
}

export interface SerialCandidate extends CandidateBase {
  readonly kind: 'serial';
  readonly path: string;
  /** USB VID:PID of the bridge or the chip's native USB, where the OS reports it. */
  readonly vendorId?: number;
  readonly productId?: number;
  readonly manufacturer?: string;
  /** Baud the user asked for (`?baud=N`). */
  readonly baudRate?: number;
  /** In-process simulators supply their own stream instead of a port path. */
  readonly openStream?: (settings: SerialLineSettings) => Promise<Transport>;
}

export interface NetworkCandidate extends CandidateBase {
  readonly kind: 'network';
  readonly scheme: 'tcp' | 'udp';
  readonly host: string;
  readonly netPort?: number;
}

export interface BlockCandidate extends CandidateBase {
  readonly kind: 'block';
  readonly path: string;
  readonly size: number;
  readonly removable: boolean;
  readonly vendor?: string;
  readonly model?: string;
  readonly bus?: string;
  /** Mount points of the disk and its partitions. */
  readonly mountpoints: readonly string[];
  /** Holds a mounted system file system or active swap: never offered, never written (contract §7; see `protected`). */
  readonly system: boolean;
  /** Additive. The root helper to write through when this process may not write the disk (the desktop app). */
  readonly helper?: string;
}

export type Candidate = UsbCandidate | SerialCandidate | NetworkCandidate | BlockCandidate;

// ---------------------------------------------------------------- targets and steps

/** Defined once, on the wire (`Device.targets`). */
export type { TargetKind };

export type Target =
  | { readonly partition: string }
  | { readonly address: number }
  | { readonly whole: true };

/** Family-specific knobs on a step (a slot, a compression switch), validated by the family. */
export type StepOptions = Readonly<Record<string, string | number | boolean>>;

/** A resolved plan step as a family runs it. Images are already opened as BlockSources. */
export type PlanStep =
  | { op: 'flash'; target: Target; source: BlockSource; options?: StepOptions }
  | { op: 'verify'; target: Target; source: BlockSource; options?: StepOptions }
  | { op: 'erase'; target: Target; options?: StepOptions }
  /** `mode` is the family's own word for where the device restarts into (its docs list them). */
  | { op: 'reboot'; mode?: string }
  | { op: 'wait_for_device'; timeoutMs: number }
  /** Driver-specific, checked by the family's `checkCommand` before the job is created. */
  | { op: 'command'; name: string; args?: unknown };

export type PlanOp = PlanStep['op'];

// ---------------------------------------------------------------- jobs

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
  waitForDevice(timeoutMs: number): Promise<Link>;
  /**
   * Additive. What the device now shows changed under the job (an ESP board got a new partition table): merged into
   * its listing at once (`device_updated`), as a probe would have found it.
   */
  describe?(patch: Partial<DeviceDescription>): void;
}

/** What a family learns from a device when it probes it. */
export interface DeviceDescription {
  name?: string;
  /** A serial the device reports; it becomes the id when no other attached device shares it. */
  serial?: string;
  partitions?: PartitionInfo[];
  info: Record<string, string | number | boolean>;
}

// ---------------------------------------------------------------- the family

export interface Family<L extends Link = Link> {
  readonly protocol: DeviceProtocol;
  /** Human name for the UI and errors, e.g. `Espressif ROM bootloader`. */
  readonly title: string;
  /** Targets `start_flash` takes for this family, in the order the UI offers them. */
  readonly targets: readonly TargetKind[];
  /**
   * Cheap: from descriptors alone, never any I/O. A number claims (higher wins when two families claim the same
   * candidate); undefined declines. Only a claimed candidate is ever connected and probed.
   */
  match(candidate: Candidate): number | undefined;
  /** The link for a claimed candidate, built from the transports by kind. No I/O until it is opened. */
  connect(candidate: Candidate): L;
  /** A bounded, cancellable conversation that learns what the device is; rejects when it is not this family's. */
  probe(link: L, candidate: Candidate, signal: AbortSignal): Promise<DeviceDescription>;
  run(link: L, step: PlanStep, ctx: JobContext): Promise<void>;
  /** Checks a `command` step's name and args; returns a message saying what is wrong, or undefined. */
  checkCommand?(name: string, args: unknown): string | undefined;
  /**
   * Additive. Which listed partition a requested name means (e.g. `boot` meaning `boot_a` on an A/B device);
   * undefined when the device has none by that name. Without it, only an exact name matches.
   */
  resolvePartition?(name: string, partitions: readonly PartitionInfo[]): PartitionInfo | undefined;
  /** Additive. The stage sentence of a `command` step (`Setting active slot b`), without the `(i/n)` suffix. */
  commandStage?(name: string, args: unknown): string | undefined;
  /**
   * Additive. Reads `path` (a file or a folder) when it is a plan format of this family's own (an Android factory zip,
   * ESP-IDF's flasher_args.json); resolves undefined, cheaply, when it is not. Tried before the generic manifest.
   */
  readPlan?(path: string): Promise<LoadedPlan | undefined>;
}

export type AnyFamily = Family<DeviceLink> | Family<UsbLink> | Family<BlockLink> | Family;
