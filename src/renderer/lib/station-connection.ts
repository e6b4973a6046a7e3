// One WebSocket to the station, framework-free: reconnects with a fixed delay and an attempt limit, rebuilds state
// from hello/snapshot, batches state publication to one update per animation frame, answers commands by requestId.
import type { ClientCommand, ResultMessage, ServerMessage, SnapshotMessage } from '../../protocol/messages.js';
import { annotateJobs, clearAllJobs, clearBatch, clearJob, emptyState, mergeLogs, reduce, type LogEntry, type StationState } from './station-state.js';

export type ConnectionStatus = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'disconnected' | 'failed';

/** What a subscriber sees; a new object only when something changed (useSyncExternalStore needs that). */
export interface ConnectionSnapshot {
  status: ConnectionStatus;
  reconnectAttempts: number;
  lastMessageTime: number | null;
  /** Why the last connection ended, for people (close code and reason). */
  lastError: string | null;
  station: StationState;
}

/** The subset of the browser WebSocket this module uses; `ws` in Node matches it too. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketFactory = new (url: string) => WebSocketLike;

export interface ConnectionOptions {
  url: string;
  reconnectDelay?: number;
  maxReconnectAttempts?: number;
  /** Defaults to the global WebSocket (browser, Electron). */
  WebSocket?: WebSocketFactory;
  /** How to defer publication; defaults to requestAnimationFrame where the page is visible, else a 16 ms timer. */
  schedule?: (flush: () => void) => void;
  /** Least time between two publications, ms (default 100: progress frames come at most 10×/s per job anyway). */
  minPublishInterval?: number;
  /** Keep-alive ping interval in ms (0 = off). */
  pingInterval?: number;
  /** How long a command waits for its `result`. */
  requestTimeout?: number;
}

export type EventListener = (message: ServerMessage) => void;

const OPEN = 1;
/** Jobs per get_job_logs request (the station takes up to 200) and lines per job asked for. */
const LOG_BATCH = 100;
const MAX_FETCHED_LOG_LINES = 500;

function defaultSchedule(flush: () => void): void {
  const visible = typeof document === 'undefined' || document.visibilityState !== 'hidden';
  if (visible && typeof requestAnimationFrame === 'function') requestAnimationFrame(flush);
  else setTimeout(flush, 16);
}

interface Pending {
  resolve(message: ResultMessage | SnapshotMessage): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export class StationConnection {
  readonly url: string;
  private readonly reconnectDelay: number;
  private readonly maxReconnectAttempts: number;
  private readonly factory: WebSocketFactory | undefined;
  private readonly schedule: (flush: () => void) => void;
  private readonly pingInterval: number;
  private readonly requestTimeout: number;
  private readonly minPublishInterval: number;
  private lastPublish = 0;
  private delayTimer: ReturnType<typeof setTimeout> | null = null;
  private publishInterval: number;
  private measuring = false;
  private socket: WebSocketLike | null = null;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private wanted = false;
  private flushQueued = false;
  private nextRequest = 1;
  private readonly pending = new Map<string, Pending>();
  private readonly targets = new Map<string, string>();
  private readonly listeners = new Set<() => void>();
  private readonly eventListeners = new Set<EventListener>();
  /** The working copy; published to `snapshot` once per frame. */
  private live: ConnectionSnapshot;
  private published: ConnectionSnapshot;

  constructor(options: ConnectionOptions) {
    this.url = options.url;
    this.reconnectDelay = Math.max(0, options.reconnectDelay ?? 3000);
    this.maxReconnectAttempts = Math.max(0, options.maxReconnectAttempts ?? 5);
    this.factory = options.WebSocket;
    this.schedule = options.schedule ?? defaultSchedule;
    this.pingInterval = options.pingInterval ?? 20_000;
    this.requestTimeout = options.requestTimeout ?? 15_000;
    this.minPublishInterval = Math.max(0, options.minPublishInterval ?? 100);
    this.publishInterval = this.minPublishInterval;
    this.live = { status: 'idle', reconnectAttempts: 0, lastMessageTime: null, lastError: null, station: emptyState() };
    this.published = this.live;
  }

  /** The latest published snapshot (stable between changes). */
  getSnapshot = (): ConnectionSnapshot => this.published;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** Every server message, unbatched, in order (notifications, tests). */
  onEvent(listener: EventListener): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  get isOpen(): boolean {
    return this.socket?.readyState === OPEN;
  }

  /** Open now (a manual connect also resets the attempt count). */
  connect(): void {
    this.wanted = true;
    this.clearReconnect();
    this.update({ reconnectAttempts: 0 });
    if (this.socket && this.socket.readyState <= OPEN) return;
    this.open('connecting');
  }

  /** Close and stay closed until `connect()`. */
  disconnect(): void {
    this.wanted = false;
    this.clearReconnect();
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onclose = null;
      socket.close(1000, 'client disconnect');
    }
    this.stopPing();
    this.failPending('disconnected');
    this.update({ status: 'disconnected' });
  }

  /** Send a frame if the socket is open; false otherwise (the guide's `send`). */
  send(message: ClientCommand | Record<string, unknown>): boolean {
    if (!this.socket || this.socket.readyState !== OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  /** Send a command and wait for its `result` (or `snapshot` for get_snapshot). Rejects when not connected. */
  request(command: ClientCommand): Promise<ResultMessage | SnapshotMessage> {
    const requestId = `ui-${this.nextRequest++}`;
    return new Promise((resolve, reject) => {
      if (!this.send({ ...command, requestId })) {
        reject(new Error('Not connected to the station — wait for the connection indicator to turn green and retry.'));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new Error(`The station did not answer ${command.type} within ${Math.round(this.requestTimeout / 1000)} s.`));
      }, this.requestTimeout);
      this.pending.set(requestId, { resolve, reject, timer });
    });
  }

  clearJob(jobId: string): void {
    this.update({ station: clearJob(this.live.station, jobId) });
  }

  /** Label jobs this page started with what they write; applied now and to frames that create them later. */
  annotate(jobIds: readonly string[], target: string): void {
    for (const id of jobIds) this.targets.set(id, target);
    this.update({ station: annotateJobs(this.live.station, jobIds, target) });
  }

  clearBatch(batchId: string): void {
    this.update({ station: clearBatch(this.live.station, batchId) });
  }

  clearAllJobs(): void {
    this.update({ station: clearAllJobs(this.live.station) });
  }

  private open(status: ConnectionStatus): void {
    const Factory = this.factory ?? (globalThis as { WebSocket?: WebSocketFactory }).WebSocket;
    if (!Factory) {
      this.update({ status: 'failed', lastError: 'This environment has no WebSocket.' });
      return;
    }
    this.update({ status });
    let socket: WebSocketLike;
    try {
      socket = new Factory(this.url);
    } catch (e) {
      this.update({ lastError: e instanceof Error ? e.message : String(e) });
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.update({ status: 'connected', reconnectAttempts: 0, lastError: null });
      this.startPing();
    };
    socket.onmessage = (ev) => {
      if (this.socket !== socket) return;
      this.handle(ev.data);
    };
    socket.onerror = () => {
      /* the close event follows and carries the code */
    };
    socket.onclose = (ev) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.stopPing();
      this.failPending('connection closed');
      const why = ev.reason ? `${ev.code} ${ev.reason}` : `closed (${ev.code})`;
      this.update({ lastError: why, station: { ...this.live.station, synced: false } });
      if (this.wanted) this.scheduleReconnect();
      else this.update({ status: 'disconnected' });
    };
  }

  private scheduleReconnect(): void {
    if (this.live.reconnectAttempts >= this.maxReconnectAttempts) {
      this.update({ status: 'failed' });
      return;
    }
    this.update({ status: 'reconnecting', reconnectAttempts: this.live.reconnectAttempts + 1 });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.wanted) this.open('reconnecting');
    }, this.reconnectDelay);
  }

  private clearReconnect(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
  }

  private startPing(): void {
    this.stopPing();
    if (this.pingInterval > 0) this.pingTimer = setInterval(() => this.send({ type: 'ping', timestamp: Date.now() }), this.pingInterval);
  }

  private stopPing(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  private failPending(why: string): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error(`The command could not finish: ${why}.`));
      this.pending.delete(id);
    }
  }

  private handle(data: unknown): void {
    if (typeof data !== 'string') return;
    let message: ServerMessage;
    try {
      message = JSON.parse(data) as ServerMessage;
    } catch {
      return;
    }
    if (!message || typeof message !== 'object' || typeof message.type !== 'string') return;
    let station = reduce(this.live.station, message);
    const jobId = (message as { jobId?: unknown }).jobId;
    if (typeof jobId === 'string' && this.targets.has(jobId)) station = annotateJobs(station, [jobId], this.targets.get(jobId) ?? '');
    if (message.type === 'snapshot') for (const [id, target] of this.targets) station = annotateJobs(station, [id], target);
    this.update({ station, lastMessageTime: Date.now() });
    if ((message.type === 'result' || message.type === 'snapshot') && message.requestId) {
      const p = this.pending.get(message.requestId);
      if (p) {
        clearTimeout(p.timer);
        this.pending.delete(message.requestId);
        p.resolve(message);
      }
    }
    if (message.type === 'error' && message.requestId) {
      const p = this.pending.get(message.requestId);
      if (p) {
        clearTimeout(p.timer);
        this.pending.delete(message.requestId);
        p.reject(new Error(`${message.code}: ${message.message}`));
      }
    }
    for (const listener of this.eventListeners) listener(message);
    if (message.type === 'snapshot' && !message.requestId) this.fetchLogs(message.jobs.map((j) => j.jobId));
  }

  /**
   * After a (re)connect, the log lines of the jobs shown come from the station's history: a reload or a missed stretch
   * does not empty the log panels. A station without get_job_logs answers with an error, which changes nothing.
   */
  private fetchLogs(jobIds: string[]): void {
    for (let i = 0; i < jobIds.length; i += LOG_BATCH) {
      const ids = jobIds.slice(i, i + LOG_BATCH);
      this.request({ type: 'get_job_logs', jobIds: ids, limit: MAX_FETCHED_LOG_LINES })
        .then((answer) => {
          const logs = answer.type === 'result' && answer.ok ? (answer.logs as Record<string, LogEntry[]> | undefined) : undefined;
          if (logs && typeof logs === 'object') this.update({ station: mergeLogs(this.live.station, logs) });
        })
        .catch(() => undefined);
    }
  }

  private update(patch: Partial<ConnectionSnapshot>): void {
    this.live = { ...this.live, ...patch };
    // Status changes show at once; a stream of progress frames is published at most every minPublishInterval ms,
    // always on an animation frame, so 64 jobs × 10 frames/s cost a handful of renders per second, not 640.
    const urgent = patch.status !== undefined || patch.reconnectAttempts !== undefined;
    if (urgent && this.delayTimer) {
      clearTimeout(this.delayTimer);
      this.delayTimer = null;
      this.flushQueued = false;
    }
    if (this.flushQueued) return;
    this.flushQueued = true;
    const wait = urgent ? 0 : this.lastPublish + this.publishInterval - Date.now();
    if (wait > 0) {
      this.delayTimer = setTimeout(() => {
        this.delayTimer = null;
        this.publish();
      }, wait);
    } else this.publish();
  }

  private publish(): void {
    this.schedule(() => {
      this.flushQueued = false;
      if (this.published === this.live) return;
      const started = now();
      this.lastPublish = Date.now();
      this.published = this.live;
      for (const listener of this.listeners) listener();
      this.measure(started);
    });
  }

  /**
   * Adapts the publication pace to what this machine can draw: the next animation frame after a publication shows
   * how long React, style, layout and paint took; publications are spaced to keep that under about a third of the
   * time (between minPublishInterval and 500 ms). A slow or busy machine gets fewer, not later, updates.
   */
  private measure(started: number): void {
    if (typeof requestAnimationFrame !== 'function' || this.measuring) return;
    this.measuring = true;
    requestAnimationFrame(() => {
      this.measuring = false;
      const cost = now() - started;
      this.publishInterval = Math.min(500, Math.max(this.minPublishInterval, cost * 3));
    });
  }
}

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

/** Connections shared by URL, so the guide's hook and the station views use one socket. */
const shared = new Map<string, { connection: StationConnection; users: number }>();

/** The shared connection for this URL, created on first use (render-safe: it does not connect). */
export function getConnection(options: ConnectionOptions): StationConnection {
  let entry = shared.get(options.url);
  if (!entry) {
    entry = { connection: new StationConnection(options), users: 0 };
    shared.set(options.url, entry);
  }
  return entry.connection;
}

/** Count a user of a shared connection (from an effect). */
export function retainConnection(connection: StationConnection): void {
  const entry = shared.get(connection.url);
  if (entry?.connection === connection) entry.users++;
}

/** Drop a user; the last one out closes the socket on the next tick, unless someone retains it again first. */
export function releaseConnection(connection: StationConnection): void {
  const entry = shared.get(connection.url);
  if (!entry || entry.connection !== connection) return;
  entry.users--;
  setTimeout(() => {
    if (entry.users > 0 || shared.get(connection.url) !== entry) return;
    shared.delete(connection.url);
    connection.disconnect();
  }, 0);
}
