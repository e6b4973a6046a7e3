/**
 * The seams between the station core, images, drivers and transports (architecture.md). Plain types only:
 * every layer below the server imports these and nothing of each other's internals.
 */
import type { Device, DeviceProtocol, DeviceTransport, LogLevel, PartitionInfo } from '../protocol/messages.js';

// ---------------------------------------------------------------- images

/** One piece of an image as the device will hold it. Offsets are in bytes from the start of the partition. */
export type Chunk =
  | { kind: 'data'; offset: number; bytes: Uint8Array }
  /** `length` bytes (a multiple of 4) of one repeated little-endian 32-bit word, zeros included: written, cheaply. */
  | { kind: 'fill'; offset: number; length: number; value: number }
  /** Declared unmapped (sparse DONT_CARE, bmap hole): left as it is on the device. */
  | { kind: 'skip'; offset: number; length: number };

/**
 * An image as the device will hold it: chunks in strictly increasing, contiguous offset order covering [0, size).
 * Streams in bounded memory. `chunks()` may be called more than once only if `reopenable` is true.
 */
export interface BlockSource {
  /** Expanded size in bytes (what the partition will hold). */
  readonly size: number;
  /** Bytes that travel as data (not fills, not skips). Exact when `exact`, else an estimate refined while streaming. */
  readonly dataBytes: number;
  readonly exact: boolean;
  /** Human description, e.g. `system.img (sparse in xz, 2.0 GiB)`. */
  readonly description: string;
  /** Block size the holes and fills are aligned to (4096 unless a sparse image says otherwise). */
  readonly blockSize: number;
  readonly reopenable: boolean;
  chunks(signal?: AbortSignal): AsyncIterable<Chunk>;
  /**
   * Random access to expanded bytes, where the underlying file allows it (raw and uncompressed sparse files).
   * Lets a sparse writer plan a piece from chunk metadata first and stream its data afterwards, in bounded memory.
   */
  readAt?(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array>;
  /** SHA-256 (hex) of the expanded image; resolves once `chunks()` has been read to the end. */
  sha256(): Promise<string>;
  /**
   * True once `sha256()` settles without further reads: the hash is done, runs elsewhere (a worker thread started
   * by the first read), or hashing is off. False while it still waits for `chunks()` to be read to the end.
   */
  readonly hashStarted?: boolean;
}

// ---------------------------------------------------------------- transports

/** A byte pipe to one device. Fastboot uses it message-wise (one response per read); serial protocols byte-wise. */
export interface Transport {
  readonly kind: DeviceTransport;
  readonly closed: boolean;
  /** Send bytes. Resolves once the transport has accepted them; several writes may be in flight. */
  write(data: Uint8Array, signal?: AbortSignal): Promise<void>;
  /** Resolves when every accepted write has reached the device. */
  drain(signal?: AbortSignal): Promise<void>;
  /** Read one packet/message of at most `maxLength` bytes. Rejects with FlashError code `timeout` after `timeoutMs`. */
  read(maxLength: number, options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** How a driver reaches its device; `open()` (re)connects and returns the live transport. */
export interface DeviceLink {
  open(signal?: AbortSignal): Promise<Transport>;
  close(): Promise<void>;
}

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
