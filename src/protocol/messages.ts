/**
 * Wire types of the `flash-station/1` WebSocket protocol (contract.md §2). The single source of truth for the
 * server, the typed client, the UI and the docs; the JSON Schemas in `schemas.ts` mirror these types.
 * This module imports nothing: it runs in Node, in the browser and in Electron alike.
 */

export const PROTOCOL = 'flash-station/1';

export type DeviceProtocol = 'fastboot' | 'dfu' | 'esp' | 'stm32' | 'block';
export type DeviceTransport = 'usb' | 'tcp' | 'udp' | 'serial' | 'block' | 'sim';
/** How `start_flash` names where an image goes (contract §7): a partition, an address, or the whole device. */
export type TargetKind = 'partition' | 'address' | 'whole';
export type DeviceState = 'idle' | 'busy' | 'error';
export type JobState = 'queued' | 'running' | 'paused' | 'completed' | 'failed' | 'cancelled';
export type LogLevel = 'info' | 'warn' | 'error';

export interface PartitionInfo {
  name: string;
  size: number;
}

export interface Device {
  id: string;
  protocol: DeviceProtocol;
  transport: DeviceTransport;
  name: string;
  serial: string;
  port?: string;
  state: DeviceState;
  partitions?: PartitionInfo[];
  info: Record<string, string | number | boolean>;
  /** Additive (§7): the targets this device's family takes, in the order a UI offers them. */
  targets?: TargetKind[];
}

export interface JobError {
  code: ErrorCode;
  message: string;
}

export interface Job {
  jobId: string;
  deviceId: string;
  state: JobState;
  stage: string;
  progress: number;
  bytesTransferred: number;
  totalBytes: number;
  transferSpeed: number;
  estimatedTimeRemaining: number;
  createdAt: number;
  startedAt?: number;
  endedAt?: number;
  error?: string;
  /** Additive: machine-readable error code when the job failed (ERROR_CODES). */
  errorCode?: ErrorCode;
  /** Additive: expanded image size (holes and fills included). */
  imageBytes?: number;
  /** Additive: what was flashed, e.g. `boot ← /images/boot.img` or a plan's name. */
  target?: string;
  /** Additive: batch the job belongs to, when started for several devices at once. */
  batchId?: string;
  /** Additive: SHA-256 of the expanded image(s), hex, once known. */
  sha256?: string;
  /** Additive: 1-based place in the station's queue while `queued` (what `flash_queued` last said). */
  queuePosition?: number;
  /** Additive: an ended job's average speed in bytes/s over its active time (paused time not counted). */
  averageSpeed?: number;
}

// ---- server → client: the original seven (field for field as the guide) ----

export interface FlashStartedMessage {
  type: 'flash_started';
  jobId: string;
  deviceId: string;
  stage: string;
  totalBytes: number;
  timestamp: number;
  imageBytes?: number;
}

export interface FlashProgressMessage {
  type: 'flash_progress';
  jobId: string;
  deviceId: string;
  progress: number;
  stage: string;
  bytesTransferred: number;
  totalBytes: number;
  transferSpeed: number;
  estimatedTimeRemaining: number;
  timestamp: number;
}

export interface FlashCompletedMessage {
  type: 'flash_completed';
  jobId: string;
  deviceId: string;
  timestamp: number;
}

export interface FlashFailedMessage {
  type: 'flash_failed';
  jobId: string;
  deviceId: string;
  error: string;
  timestamp: number;
  /** Additive: `cancelled` when the job was cancelled. */
  reason?: 'cancelled' | 'error' | 'interrupted';
  /**
   * Additive: for a cancelled job, what the cancel left behind when that is more than "Cancelled" — e.g. a download
   * left half-sent at byte N. `error` stays `"Cancelled"` (contract §2.1); the Job's `error` carries this text.
   */
  detail?: string;
  /** Additive: stable error code (ERROR_CODES). */
  code?: ErrorCode;
}

export interface FlashPausedMessage {
  type: 'flash_paused';
  jobId: string;
  deviceId: string;
  timestamp: number;
}

export interface FlashResumedMessage {
  type: 'flash_resumed';
  jobId: string;
  deviceId: string;
  timestamp: number;
}

export interface PongMessage {
  type: 'pong';
  timestamp: number;
}

// ---- server → client: additions ----

export interface HelloMessage {
  type: 'hello';
  protocol: typeof PROTOCOL;
  version: string;
  authenticated: boolean;
  timestamp: number;
}

export interface SnapshotMessage {
  type: 'snapshot';
  devices: Device[];
  jobs: Job[];
  timestamp: number;
  requestId?: string;
  /** Additive: the station's recent many-device batches, as their latest `batch_summary` would say (newest last). */
  batches?: BatchSummaryMessage[];
}

export interface DeviceAttachedMessage {
  type: 'device_attached';
  device: Device;
  timestamp: number;
}

export interface DeviceDetachedMessage {
  type: 'device_detached';
  deviceId: string;
  timestamp: number;
}

/** Additive: a device's state, partitions or info changed (e.g. busy → idle). */
export interface DeviceUpdatedMessage {
  type: 'device_updated';
  device: Device;
  timestamp: number;
}

export interface FlashQueuedMessage {
  type: 'flash_queued';
  jobId: string;
  deviceId: string;
  position: number;
  timestamp: number;
}

export interface FlashLogMessage {
  type: 'flash_log';
  jobId: string;
  deviceId: string;
  level: LogLevel;
  message: string;
  timestamp: number;
}

/** How the jobs of a many-device `start_flash` stand. */
export interface BatchCounts {
  batchId: string;
  total: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  running: number;
  /** Additive to the counts: jobs still waiting for their device or a slot. */
  queued: number;
  /** Additive: how many of `running` are paused (running counts them, as it always did). */
  paused?: number;
}

/**
 * Additive: a many-device `start_flash` changed counts — sent once its jobs are placed, and whenever one of them starts,
 * pauses, resumes or ends.
 */
export interface BatchSummaryMessage extends BatchCounts {
  type: 'batch_summary';
  timestamp: number;
}

export interface ResultOk {
  type: 'result';
  requestId?: string;
  ok: true;
  [field: string]: unknown;
}

export interface ResultErr {
  type: 'result';
  requestId?: string;
  ok: false;
  error: JobError;
}

export type ResultMessage = ResultOk | ResultErr;

export interface ErrorMessage {
  type: 'error';
  code: ErrorCode;
  message: string;
  requestId?: string;
}

export type FlashEventMessage =
  | FlashStartedMessage
  | FlashProgressMessage
  | FlashCompletedMessage
  | FlashFailedMessage
  | FlashPausedMessage
  | FlashResumedMessage;

export type ServerMessage =
  | FlashEventMessage
  | PongMessage
  | HelloMessage
  | SnapshotMessage
  | DeviceAttachedMessage
  | DeviceDetachedMessage
  | DeviceUpdatedMessage
  | FlashQueuedMessage
  | FlashLogMessage
  | BatchSummaryMessage
  | ResultMessage
  | ErrorMessage;

// ---- client → server ----

interface Command {
  requestId?: string;
}

export interface PingCommand extends Command {
  type: 'ping';
  timestamp?: number;
}
export interface AuthCommand extends Command {
  type: 'auth';
  token: string;
}
export interface GetSnapshotCommand extends Command {
  type: 'get_snapshot';
}
/** Additive: the last log lines of some jobs, from the station's history; `result` carries `logs: {jobId: JobLogLine[]}`. */
export interface GetJobLogsCommand extends Command {
  type: 'get_job_logs';
  jobIds: string[];
  /** Lines per job, newest kept (default 500). */
  limit?: number;
}
export interface JobLogLine {
  timestamp: number;
  level: LogLevel;
  message: string;
}
export interface GetHistoryCommand extends Command {
  type: 'get_history';
  limit?: number;
  deviceId?: string;
  before?: number;
  /** Additive: a job state (`completed`, `failed`, `cancelled`) or `interrupted`, as `/api/history?state=`. */
  state?: string;
  /** Additive: the jobs of one batch, as `/api/history?batchId=`. */
  batchId?: string;
}
export interface StartFlashCommand extends Command {
  type: 'start_flash';
  deviceId?: string;
  /** Additive (station-scale): several devices, one job each. */
  deviceIds?: string[];
  /** Exactly one target with `image` (contract §7): `partition`, `address`, or neither (the whole device). */
  partition?: string;
  /** An integer or a `"0x…"` string: an ESP flash offset, an STM32 memory address, a DfuSe address. */
  address?: number | string;
  image?: string;
  /** A plan: a path to a bundle/manifest/factory zip on the station's machine, or an inline plan object. */
  plan?: string | PlanInput;
  /** Additive: read back and compare after writing where the device can. */
  verify?: boolean;
}
export interface JobCommand extends Command {
  type: 'pause_flash' | 'resume_flash' | 'cancel_flash';
  jobId: string;
}
export interface SetLimitsCommand extends Command {
  type: 'set_limits';
  jobId?: string;
  bytesPerSecond: number | null;
}

/** Additive: pause / resume / cancel every job it applies to; `result` carries `jobs` (the jobs affected). */
export interface BulkJobCommand extends Command {
  type: 'pause_all' | 'resume_all' | 'cancel_all';
}
/** Additive: the station's settings (`result` carries `settings`); readable without the token. */
export interface GetSettingsCommand extends Command {
  type: 'get_settings';
}
/** Additive: change some settings (validated by the station); `result` carries the full `settings`. */
export interface UpdateSettingsCommand extends Command {
  type: 'update_settings';
  settings: Record<string, unknown>;
}

export type ClientCommand =
  | PingCommand
  | AuthCommand
  | GetSnapshotCommand
  | GetHistoryCommand
  | GetJobLogsCommand
  | StartFlashCommand
  | JobCommand
  | SetLimitsCommand
  | BulkJobCommand
  | GetSettingsCommand
  | UpdateSettingsCommand
  | (FlashEventMessage & Command);

/** A plan as it travels on the wire (see src/images/plan.ts for the manifest format). */
export interface PlanInput {
  name?: string;
  steps: PlanStepInput[];
}

export type PlanStepInput =
  | { op: 'flash'; partition: string; image: string; slot?: 'a' | 'b' | 'all' | 'current' }
  | { op: 'erase'; partition: string }
  | { op: 'set_active'; slot: 'a' | 'b' }
  | { op: 'reboot'; target?: 'system' | 'bootloader' | 'fastboot' | 'recovery' }
  | { op: 'wait_for_device'; timeoutMs?: number }
  | { op: 'oem'; command: string }
  | { op: 'getvar'; name: string; expect?: string };

/** The one list of error codes, generic across device families (docs/protocol.md, "Error codes"). */
export const ERROR_CODES = [
  // requests and the wire
  'bad_request',
  'invalid_json',
  'unknown_type',
  'unauthorized',
  'forbidden',
  'not_found',
  'rate_limited',
  'too_large',
  'shutting_down',
  'invalid_state',
  // devices
  'device_not_found',
  'device_busy',
  'device_protected',
  'device_rejected',
  'device_error',
  'permission_denied',
  'port_busy',
  'disconnected',
  'timeout',
  'unreachable',
  'protocol_error',
  'partition_not_found',
  'target_unsupported',
  'requirement_failed',
  'unsupported',
  // images
  'image_not_found',
  'image_unreadable',
  'image_invalid',
  'image_too_large',
  'image_mismatch',
  // jobs
  'job_not_found',
  'verify_mismatch',
  'cancelled',
  'interrupted',
  'lost',
  'internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];
