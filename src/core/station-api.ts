/**
 * What the server (and the Electron main process) may ask of the station core. The server is a thin adapter
 * from WebSocket/HTTP to this interface; the core implements it in `station.ts`.
 */
import type {
  Device,
  FlashEventMessage,
  Job,
  PlanInput,
  ServerMessage,
} from '../protocol/messages.js';

export interface StartFlashRequest {
  deviceId?: string;
  deviceIds?: string[];
  partition?: string;
  image?: string;
  plan?: string | PlanInput;
  verify?: boolean;
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
  state?: string;
}

export interface StationStats {
  jobsByState: Record<string, number>;
  bytesFlashed: number;
  devices: number;
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
  publishExternal(message: FlashEventMessage): void;
  subscribe(listener: StationListener): () => void;
  stats(): StationStats;
  /** Stop taking jobs, cancel running ones cleanly, close stores. */
  close(): Promise<void>;
}
