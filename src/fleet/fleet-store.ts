// The fleet view's memory: the latest status, state and live jobs of every station on the broker, fed by whatever
// arrives on flash-station/+/… — malformed or oversized messages are counted and ignored, never trusted.
import type { Device, Job } from '../protocol/messages.js';
import { parseTopic, type TopicKind } from './topics.js';

export interface StationCounters {
  events: number;
  completed: number;
  failed: number;
  cancelled: number;
  /** Events the station reported dropping from its queue while the broker was away. */
  dropped: number;
}

export interface StationRecord {
  stationId: string;
  online: boolean;
  /**
   * When the station was last heard from: the fleet's clock for what the station itself sent; for what the broker
   * hands on (a retained message, the Last Will) only the message's own timestamp, and never later than now.
   */
  lastSeen: number;
  devices: Device[];
  jobs: Job[];
  counters: StationCounters;
  /** The latest command results (newest last). */
  results: Array<{ receivedAt: number; result: Record<string, unknown> }>;
}

/** A station as `GET /api/stations` lists it (the fleet view's page reads this shape). */
export type StationSummary = Omit<StationRecord, 'results'>;

export interface FleetCounters {
  messages: number;
  invalid: Record<Exclude<TopicKind, 'commands'> | 'topic', number>;
  oversized: number;
  stationsRefused: number;
}

export interface FleetStoreOptions {
  /** Largest payload looked at (default 1 MiB, the WebSocket frame limit). */
  maxPayloadBytes?: number;
  /** Stations kept at most (default 5000); more are counted and ignored. */
  maxStations?: number;
  /** Event delays kept for the percentiles (default 20 000). */
  delaySamples?: number;
  /** Devices and jobs kept per station at most (default 256 each). */
  maxItems?: number;
}

const RESULTS_KEPT = 20;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isDevice = (v: unknown): v is Device => isObj(v) && typeof v.id === 'string' && typeof v.state === 'string';
const isJob = (v: unknown): v is Job => isObj(v) && typeof v.jobId === 'string' && typeof v.deviceId === 'string' && typeof v.state === 'string';

const JOB_FIELDS = ['stage', 'progress', 'bytesTransferred', 'totalBytes', 'transferSpeed', 'estimatedTimeRemaining'] as const;

export class FleetStore {
  readonly counters: FleetCounters = {
    messages: 0, oversized: 0, stationsRefused: 0, invalid: { status: 0, state: 0, events: 0, results: 0, topic: 0 },
  };
  private readonly stations = new Map<string, StationRecord>();
  private readonly delays: Float64Array;
  private delayCount = 0;
  private readonly maxPayload: number;
  private readonly maxStations: number;
  private readonly maxItems: number;
  private readonly waiters = new Map<string, (result: Obj) => void>();

  constructor(options: FleetStoreOptions = {}) {
    this.maxPayload = options.maxPayloadBytes ?? 1024 * 1024;
    this.maxStations = options.maxStations ?? 5000;
    this.maxItems = options.maxItems ?? 256;
    this.delays = new Float64Array(options.delaySamples ?? 20_000);
  }

  get size(): number {
    return this.stations.size;
  }

  list(): StationRecord[] {
    return [...this.stations.values()].sort((a, b) => a.stationId.localeCompare(b.stationId));
  }

  get(stationId: string): StationRecord | undefined {
    return this.stations.get(stationId);
  }

  /** Resolves with the result that carries `requestId` from `stationId`, if it comes. */
  awaitResult(stationId: string, requestId: string, timeoutMs: number): Promise<Obj | undefined> {
    const key = `${stationId}\n${requestId}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(key);
        resolve(undefined);
      }, timeoutMs);
      this.waiters.set(key, (result) => {
        clearTimeout(timer);
        this.waiters.delete(key);
        resolve(result);
      });
    });
  }

  /** Delay percentiles (ms) of station event → fleet receipt over the kept samples. */
  delayPercentiles(): { count: number; p50: number; p99: number; max: number } {
    const n = Math.min(this.delayCount, this.delays.length);
    if (n === 0) return { count: this.delayCount, p50: 0, p99: 0, max: 0 };
    const sorted = Float64Array.from(this.delays.subarray(0, n)).sort();
    const at = (q: number): number => sorted[Math.min(n - 1, Math.floor(q * n))] ?? 0;
    return { count: this.delayCount, p50: at(0.5), p99: at(0.99), max: sorted[n - 1] ?? 0 };
  }

  /** Take one MQTT message (`retained`: the broker's stored copy, not news). Never throws. */
  handle(topic: string, payload: Uint8Array, now = Date.now(), retained = false): void {
    this.counters.messages++;
    const where = parseTopic(topic);
    if (!where || where.kind === 'commands') {
      this.counters.invalid.topic++;
      return;
    }
    const kind = where.kind;
    if (payload.length > this.maxPayload) {
      this.counters.oversized++;
      return;
    }
    // A retained message cleared by an empty payload: the station is gone from the broker.
    if (payload.length === 0) {
      if (kind === 'status' || kind === 'state') this.forget(where.stationId, kind);
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.length).toString('utf8'));
    } catch {
      this.counters.invalid[kind]++;
      return;
    }
    if (!isObj(value)) {
      this.counters.invalid[kind]++;
      return;
    }
    // A retained message or the Last Will (online:false) is not a sign of life now: at most of when it was written.
    const stamp = typeof value.timestamp === 'number' && Number.isFinite(value.timestamp) ? Math.min(now, value.timestamp) : undefined;
    const heard = retained || (kind === 'status' && value.online === false) ? stamp : now;
    const station = this.station(where.stationId, now, heard);
    if (!station) return;
    const ok = kind === 'status' ? this.onStatus(station, value)
      : kind === 'state' ? this.onState(station, value)
        : kind === 'events' ? this.onEvent(station, value, now)
          : this.onResult(station, value, now);
    if (!ok) this.counters.invalid[kind]++;
  }

  private station(stationId: string, now: number, heard: number | undefined): StationRecord | undefined {
    let s = this.stations.get(stationId);
    if (!s) {
      if (this.stations.size >= this.maxStations) {
        this.counters.stationsRefused++;
        return undefined;
      }
      s = { stationId, online: false, lastSeen: heard ?? now, devices: [], jobs: [], counters: { events: 0, completed: 0, failed: 0, cancelled: 0, dropped: 0 }, results: [] };
      this.stations.set(stationId, s);
    } else if (heard !== undefined) s.lastSeen = Math.max(s.lastSeen, heard);
    return s;
  }

  private forget(stationId: string, kind: 'status' | 'state'): void {
    const s = this.stations.get(stationId);
    if (!s) return;
    if (kind === 'status') this.stations.delete(stationId);
    else {
      s.devices = [];
      s.jobs = [];
    }
  }

  private onStatus(s: StationRecord, v: Obj): boolean {
    if (typeof v.online !== 'boolean') return false;
    s.online = v.online;
    if (!v.online) s.jobs = s.jobs.filter((j) => j.state === 'queued');
    return true;
  }

  private onState(s: StationRecord, v: Obj): boolean {
    if (!Array.isArray(v.devices) || !Array.isArray(v.jobs)) return false;
    s.devices = v.devices.filter(isDevice).slice(0, this.maxItems);
    s.jobs = v.jobs.filter(isJob).slice(0, this.maxItems);
    return true;
  }

  private onEvent(s: StationRecord, v: Obj, now: number): boolean {
    if (typeof v.type !== 'string') return false;
    s.counters.events++;
    if (typeof v.timestamp === 'number' && Number.isFinite(v.timestamp)) {
      this.delays[this.delayCount % this.delays.length] = Math.max(0, now - v.timestamp);
      this.delayCount++;
    }
    const jobId = typeof v.jobId === 'string' ? v.jobId : undefined;
    switch (v.type) {
      case 'device_attached':
        if (!isDevice(v.device)) return false;
        s.devices = [...s.devices.filter((d) => d.id !== (v.device as Device).id), v.device].slice(0, this.maxItems);
        return true;
      case 'device_detached':
        s.devices = s.devices.filter((d) => d.id !== v.deviceId);
        return true;
      case 'flash_queued':
      case 'flash_started':
      case 'flash_progress':
      case 'flash_paused':
      case 'flash_resumed': {
        if (!jobId) return false;
        this.updateJob(s, jobId, v);
        return true;
      }
      case 'flash_completed':
      case 'flash_failed': {
        if (!jobId) return false;
        const cancelled = v.type === 'flash_failed' && v.reason === 'cancelled';
        s.counters[v.type === 'flash_completed' ? 'completed' : cancelled ? 'cancelled' : 'failed']++;
        s.jobs = s.jobs.filter((j) => j.jobId !== jobId);
        return true;
      }
      case 'mqtt_events_dropped':
        if (typeof v.count === 'number' && Number.isSafeInteger(v.count) && v.count > 0) s.counters.dropped += v.count;
        return true;
      default:
        return true;
    }
  }

  private updateJob(s: StationRecord, jobId: string, v: Obj): void {
    let job = s.jobs.find((j) => j.jobId === jobId);
    if (!job) {
      if (s.jobs.length >= this.maxItems || typeof v.deviceId !== 'string') return;
      job = {
        jobId, deviceId: v.deviceId, state: 'queued', stage: '', progress: 0, bytesTransferred: 0, totalBytes: 0,
        transferSpeed: 0, estimatedTimeRemaining: 0, createdAt: typeof v.timestamp === 'number' ? v.timestamp : Date.now(),
      };
      s.jobs = [...s.jobs, job];
    }
    const states: Record<string, Job['state']> = {
      flash_queued: 'queued', flash_started: 'running', flash_progress: 'running', flash_paused: 'paused', flash_resumed: 'running',
    };
    const state = states[v.type as string];
    if (state) job.state = state;
    for (const f of JOB_FIELDS) {
      const x = v[f];
      if (f === 'stage' ? typeof x === 'string' : typeof x === 'number' && Number.isFinite(x)) (job as unknown as Obj)[f] = x;
    }
  }

  private onResult(s: StationRecord, v: Obj, now: number): boolean {
    if (typeof v.type !== 'string') return false;
    s.results = [...s.results, { receivedAt: now, result: v }].slice(-RESULTS_KEPT);
    if (typeof v.requestId === 'string') this.waiters.get(`${s.stationId}\n${v.requestId}`)?.(v);
    return true;
  }
}
