/**
 * What the server (and the Electron main process) may ask of the station core. The server is a thin adapter
 * from WebSocket/HTTP to this interface; the core implements it in `station.ts`.
 */
import type {
  BatchCounts,
  Device,
  FlashEventMessage,
  Job,
  JobLogLine,
  PlanInput,
  ServerMessage,
} from '../protocol/messages.js';
import type { AutoFlashRule, DeviceSelector, StationSettings } from '../protocol/settings.js';

export type { AutoFlashRule, DeviceSelector, StationSettings };

export interface StartFlashRequest {
  deviceId?: string;
  /** Several devices, one job each; `["*"]` means every connected device that matches `selector` (or all idle ones). */
  deviceIds?: string[];
  /** Additive: pick devices by what they are, e.g. `{ protocol: P, state: 'idle' }` (all idle devices of family P). */
  selector?: DeviceSelector;
  partition?: string;
  /** Additive (§7): an integer or a `"0x…"` string, for families that take addresses. */
  address?: number | string;
  image?: string;
  plan?: string | PlanInput;
  verify?: boolean;
  /** Additive: wait this long for a device that is not connected yet (default: the `deviceWaitMs` setting). */
  waitForDeviceMs?: number;
}


export interface StartFlashResult {
  jobId: string;
  /** One per device when several were asked for. */
  jobIds: string[];
  status: 'started' | 'queued';
  batchId?: string;
}

export interface HistoryQuery {
  limit?: number;
  deviceId?: string;
  before?: number;
  /** A JobState, or `interrupted` (jobs that were running when the station died). */
  state?: string;
  /** Additive: jobs of one batch. */
  batchId?: string;
}

export interface StationStats {
  jobsByState: Record<string, number>;
  bytesFlashed: number;
  devices: number;
  /** Additive: succeeded/failed jobs per physical port (or device id where there is no port) since start. */
  ports?: PortCounter[];
}

/** Additive: per-port counters for production lines. */
export interface PortCounter {
  port: string;
  succeeded: number;
  failed: number;
}



/** Additive: analytics grouped per device, per image or per day. */
export interface AnalyticsQuery {
  groupBy: 'device' | 'image' | 'day';
  /** Unix ms bounds on the job's creation time. */
  since?: number;
  until?: number;
}

export interface AnalyticsRow {
  key: string;
  count: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  /** succeeded / (succeeded + failed + cancelled), 0–1; 0 when nothing ended. */
  successRate: number;
  /** Median wall time of ended jobs, ms. */
  medianDurationMs: number;
  /** Bytes transferred per second of running time over ended jobs. */
  throughput: number;
  bytes: number;
}

/** Additive: what history knows about one job. */
export interface JobDetail {
  job: Job;
  stages: Array<{ stage: string; startedAt: number; endedAt?: number; bytes: number }>;
  logs: Array<{ timestamp: number; level: string; message: string }>;
  plan?: unknown;
  /** Every image the job wrote. */
  images?: Array<{ partition: string; location: string; size: number; dataBytes: number; sha256?: string }>;
  imagePath?: string;
  imageSize?: number;
  averageSpeed?: number;
  peakSpeed?: number;
}

export interface BatchSummary extends BatchCounts {
  jobIds: string[];
  createdAt: number;
  endedAt?: number;
}

/** A station event goes to every client; `progressKey` marks frames that may be coalesced to the latest per job. */
export type StationListener = (message: ServerMessage) => void;

export interface StationApi {
  readonly version: string;
  devices(): Device[];
  jobs(): Job[];
  job(jobId: string): Job | undefined;
  /** Validates everything (device, image, partition) before a job exists; throws FlashError with a code. */
  startFlash(request: StartFlashRequest): Promise<StartFlashResult>;
  pause(jobId: string): Job;
  resume(jobId: string): Job;
  cancel(jobId: string): Job;
  setLimits(jobId: string | undefined, bytesPerSecond: number | null): void;
  history(query: HistoryQuery): Job[];
  /** An outside agent's own job event (contract §2.3 last row); throws FlashError if it names a station job. */
  /** `publisher` names the connection the event came from (outside jobs are capped per publisher). */
  publishExternal(message: FlashEventMessage, publisher?: string): void;
  subscribe(listener: StationListener): () => void;
  stats(): StationStats;
  /** Stop taking jobs, cancel running ones cleanly, close stores. */
  close(): Promise<void>;

  // ---- additive (station at scale) ----
  /** Pause / resume / cancel every active job; returns the jobs affected. */
  pauseAll(): Job[];
  resumeAll(): Job[];
  cancelAll(): Job[];
  batch(batchId: string): BatchSummary | undefined;
  batches(): BatchSummary[];
  analytics(query: AnalyticsQuery): AnalyticsRow[];
  /** History as CSV (header line first), same filters as `history`. */
  /** History as CSV, in pieces (the header first) for a streamed answer. */
  exportCsv(query: HistoryQuery): Iterable<string>;
  /** One job from history with its per-stage timings, logs, plan and images; undefined when unknown. */
  jobDetail?(jobId: string): JobDetail | undefined;
  /** The last `limit` log lines of each job (oldest first) from history; jobs without lines are left out. */
  jobLogs?(jobIds: string[], limit: number): Record<string, JobLogLine[]>;
  getSettings(): StationSettings;
  /** Merges, validates (FlashError `bad_request`), applies live and persists; returns the full settings. */
  updateSettings(patch: Partial<StationSettings>): StationSettings;
}
