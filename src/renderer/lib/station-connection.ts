// The page's connection to the station: the one protocol client (src/client) with the guide's reconnect rules (a fixed
// delay, an attempt limit), publication batched to the screen's pace, the page's own job marks, and logs after a reload.
import { StationClient, StationClientError, type ConnectionStatus, type WebSocketConstructor } from '../../client/station-client.js';
import { annotateJobs, clearAllJobs, clearBatch, clearJob, emptyState, mergeLogs, type LogEntry, type StationState } from '../../client/job-state.js';
import type { ClientCommand, ResultMessage, ServerMessage, SnapshotMessage } from '../../protocol/messages.js';

export type { ConnectionStatus, WebSocketLike } from '../../client/station-client.js';
/** The WebSocket constructor the connection uses (the client's `WebSocketConstructor`). */
export type WebSocketFactory = WebSocketConstructor;

/** What a subscriber sees; a new object only when something changed (useSyncExternalStore needs that). */
export interface ConnectionSnapshot {
  status: ConnectionStatus;
  reconnectAttempts: number;
  lastMessageTime: number | null;
  /** Why the last connection ended, for people (close code and reason). */
  lastError: string | null;
  station: StationState;
}

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

/** Jobs per get_job_logs request (the station takes up to 200) and lines per job asked for. */
const LOG_BATCH = 100;
const MAX_FETCHED_LOG_LINES = 500;

function defaultSchedule(flush: () => void): void {
  const visible = typeof document === 'undefined' || document.visibilityState !== 'hidden';
  if (visible && typeof requestAnimationFrame === 'function') requestAnimationFrame(flush);
  else setTimeout(flush, 16);
}

/** The station's words for a command that got no answer, in the page's terms. */
function explainNoAnswer(e: unknown, command: ClientCommand, timeoutMs: number): Error {
  const code = e instanceof StationClientError ? e.code : '';
  if (code === 'not_connected') return new Error('Not connected to the station — wait for the connection indicator to turn green and retry.');
  if (code === 'timeout') return new Error(`The station did not answer ${command.type} within ${Math.round(timeoutMs / 1000)} s.`);
  if (code === 'disconnected' || code === 'closed') return new Error('The command could not finish: the connection closed.');
  return e instanceof Error ? e : new Error(String(e));
}

export class StationConnection {
  readonly url: string;
  private readonly client: StationClient | null;
  private readonly schedule: (flush: () => void) => void;
  private readonly requestTimeout: number;
  private readonly minPublishInterval: number;
  private lastPublish = 0;
  private delayTimer: ReturnType<typeof setTimeout> | null = null;
  private publishInterval: number;
  private measuring = false;
  private flushQueued = false;
  private readonly targets = new Map<string, string>();
  private readonly listeners = new Set<() => void>();
  private readonly eventListeners = new Set<EventListener>();
  /** The working copy; published to `snapshot` once per frame. */
  private live: ConnectionSnapshot;
  private published: ConnectionSnapshot;

  constructor(options: ConnectionOptions) {
    this.url = options.url;
    this.schedule = options.schedule ?? defaultSchedule;
    this.requestTimeout = options.requestTimeout ?? 15_000;
    this.minPublishInterval = Math.max(0, options.minPublishInterval ?? 100);
    this.publishInterval = this.minPublishInterval;
    const Factory = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketFactory }).WebSocket;
    this.client = Factory
      ? new StationClient({
          url: options.url,
          WebSocket: Factory,
          // The guide's rules: a fixed delay between tries, at most maxReconnectAttempts of them, also for the first.
          backoff: 'fixed',
          initialBackoffMs: Math.max(0, options.reconnectDelay ?? 3000),
          maxReconnectAttempts: Math.max(0, options.maxReconnectAttempts ?? 5),
          retryInitialConnect: true,
          requestTimeoutMs: this.requestTimeout,
          pingIntervalMs: options.pingInterval ?? 20_000,
        })
      : null;
    this.live = { status: 'idle', reconnectAttempts: 0, lastMessageTime: null, lastError: null, station: this.client?.state ?? emptyState() };
    this.published = this.live;
    if (!this.client) return;
    const client = this.client;
    client.on('status', () => this.fromClient(true));
    client.on('reconnect', () => this.fromClient(true));
    client.on('state', () => this.fromClient(false));
    client.on('*', (message) => this.heard(message));
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
    return this.client?.status === 'connected';
  }

  /** Open now (a manual connect also resets the attempt count). */
  connect(): void {
    if (!this.client) {
      this.update({ status: 'failed', lastError: 'This environment has no WebSocket.' });
      return;
    }
    // Failures show in the status; nobody awaits this promise.
    this.client.connect().catch(() => undefined);
  }

  /** Close and stay closed until `connect()`. */
  disconnect(): void {
    this.client?.close();
  }

  /** Send a frame if the socket is open; false otherwise (the guide's `send`). */
  send(message: ClientCommand | Record<string, unknown>): boolean {
    try {
      this.client?.send(message as ClientCommand);
      return Boolean(this.client);
    } catch {
      return false;
    }
  }

  /** Send a command and wait for its `result` (or `snapshot` for get_snapshot). Rejects when not connected. */
  async request(command: ClientCommand): Promise<ResultMessage | SnapshotMessage> {
    if (!this.client) throw explainNoAnswer(new StationClientError('not_connected', ''), command, this.requestTimeout);
    let answer;
    try {
      answer = await this.client.exchange(command);
    } catch (e) {
      throw explainNoAnswer(e, command, this.requestTimeout);
    }
    if (answer.type === 'error') throw new Error(`${answer.code}: ${answer.message}`);
    return answer;
  }

  clearJob(jobId: string): void {
    this.client?.edit((s) => clearJob(s, jobId));
  }

  /** Label jobs this page started with what they write; applied now and to frames that create them later. */
  annotate(jobIds: readonly string[], target: string): void {
    for (const id of jobIds) this.targets.set(id, target);
    this.client?.edit((s) => annotateJobs(s, jobIds, target));
  }

  clearBatch(batchId: string): void {
    this.client?.edit((s) => clearBatch(s, batchId));
  }

  clearAllJobs(): void {
    this.client?.edit((s) => clearAllJobs(s));
  }

  /** One frame, after the client's reducer took it: the page's marks, listeners, and logs after a (re)connect. */
  private heard(message: ServerMessage): void {
    const client = this.client;
    if (!client) return;
    const jobId = (message as { jobId?: unknown }).jobId;
    if (typeof jobId === 'string' && this.targets.has(jobId)) client.edit((s) => annotateJobs(s, [jobId], this.targets.get(jobId) ?? ''));
    if (message.type === 'snapshot') for (const [id, target] of this.targets) client.edit((s) => annotateJobs(s, [id], target));
    this.fromClient(false);
    for (const listener of this.eventListeners) listener(message);
    if (message.type === 'snapshot' && !message.requestId) this.fetchLogs(message.jobs.map((j) => j.jobId));
  }

  private fromClient(urgent: boolean): void {
    const c = this.client;
    if (!c) return;
    const patch: Partial<ConnectionSnapshot> = { station: c.state, lastMessageTime: c.lastMessageTime, lastError: c.lastError };
    if (urgent || c.status !== this.live.status || c.reconnectAttempts !== this.live.reconnectAttempts) {
      patch.status = c.status;
      patch.reconnectAttempts = c.reconnectAttempts;
    }
    this.update(patch);
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
          if (logs && typeof logs === 'object') this.client?.edit((s) => mergeLogs(s, logs));
        })
        .catch(() => undefined);
    }
  }

  private update(patch: Partial<ConnectionSnapshot>): void {
    const changed = (Object.keys(patch) as (keyof ConnectionSnapshot)[]).some((k) => patch[k] !== this.live[k]);
    if (!changed) return;
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
