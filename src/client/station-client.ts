/**
 * The one client of the `flash-station/1` WebSocket protocol, for Node (pass `ws`'s WebSocket) and browsers (pass
 * `globalThis.WebSocket`); the CLI and the UI's connection are built on it. Connects, authenticates, reconnects with
 * backoff, keeps the connection alive with pings, matches commands to answers by requestId, and rebuilds devices and
 * jobs from hello/snapshot and the event stream with the one reducer (job-state.ts). No Node built-ins.
 */
import type {
  ClientCommand, Device, FlashEventMessage, HelloMessage, Job, JobLogLine, ResultOk, ServerMessage, SnapshotMessage, StartFlashCommand,
} from '../protocol/messages.js';
import { emptyState, reduce, unsynced, type StationState } from './job-state.js';

/** The part of the WHATWG WebSocket the client needs; both `ws` and browsers provide it. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface StationClientOptions {
  /** `ws://127.0.0.1:3001/flash-progress` by default. */
  url?: string;
  /** The station token; sent in an `auth` frame after connecting (or in the URL with `tokenInUrl`). */
  token?: string;
  tokenInUrl?: boolean;
  WebSocket: WebSocketConstructor;
  /** Reconnect after a lost connection (default true), with exponential backoff and jitter. */
  reconnect?: boolean;
  /** Tries after a lost connection before giving up (status `failed`); default unlimited. */
  maxReconnectAttempts?: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** `exponential` (default): initialBackoffMs doubling up to maxBackoffMs, ±25 % jitter; `fixed`: initialBackoffMs each time. */
  backoff?: 'exponential' | 'fixed';
  /** Keep retrying when the very first connection fails (default false: `connect()` rejects at once). */
  retryInitialConnect?: boolean;
  /** A command with no answer within this time is rejected with code `timeout` (default 30 s). */
  requestTimeoutMs?: number;
  /** Send a `ping` this often while connected, so idle proxies keep the socket (default 0 = never). */
  pingIntervalMs?: number;
}

/** What `start_flash` takes: a device (or several, or a selector) and a partition + image, or a plan. */
export type StartFlashRequest = Omit<StartFlashCommand, 'type' | 'requestId'> & {
  selector?: { protocol?: string; transport?: string; state?: string; serial?: string; product?: string };
  waitForDeviceMs?: number;
};

/**
 * Where the connection is: `connected` once hello and snapshot arrived (and the token was accepted); `reconnecting`
 * while waiting for the next try; `disconnected` after close(); `failed` when it gave up (or never got through).
 * The UI hook's `connectionStatus` is this type.
 */
export type ConnectionStatus = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'disconnected' | 'failed';

/** A command the station refused, or a connection problem. `code` is the protocol's error code. */
export class StationClientError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'StationClientError';
  }
}

type MessageOf<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;
/** What answers a command: its `result`, an `error` frame that names it, or (get_snapshot) a `snapshot`. */
export type Answer = Extract<ServerMessage, { type: 'result' | 'error' | 'snapshot' }>;
type Listener<T> = (value: T) => void;

interface Pending {
  resolve(m: Answer): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export const DEFAULT_URL = 'ws://127.0.0.1:3001/flash-progress';

export class StationClient {
  /** Devices and jobs as of the last snapshot plus every event since. */
  state: StationState = emptyState();
  hello: HelloMessage | undefined;
  status: ConnectionStatus = 'idle';
  authenticated = false;
  reconnectAttempts = 0;
  /** Why the last connection ended (close code and reason), for people; null while connected. */
  lastError: string | null = null;
  /** Unix ms of the last frame received. */
  lastMessageTime: number | null = null;

  private socket: WebSocketLike | undefined;
  private readonly listeners = new Map<string, Set<Listener<never>>>();
  private readonly pending = new Map<string, Pending>();
  private seq = 0;
  private closedByUser = false;
  private everOpened = false;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private readyWaiters: Array<{ resolve(): void; reject(e: Error): void }> = [];

  constructor(private readonly options: StationClientOptions) {}

  get url(): string {
    return this.options.url ?? DEFAULT_URL;
  }

  get devices(): Device[] {
    return [...this.state.devices.values()];
  }

  get jobs(): Job[] {
    return [...this.state.jobs.values()];
  }

  /**
   * Connect; resolves once hello and snapshot arrived (and the token was accepted, when one was given). Called while
   * waiting to reconnect or after giving up, it tries at once and counts attempts from zero again.
   */
  connect(): Promise<void> {
    this.closedByUser = false;
    if (this.status === 'connected') return Promise.resolve();
    const ready = new Promise<void>((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
    if (!this.socket) {
      this.clearReconnect();
      this.reconnectAttempts = 0;
      this.open();
    }
    return ready;
  }

  /** Close for good (no reconnect; `connect()` opens again). Pending commands are rejected with code `closed`. */
  close(): void {
    this.closedByUser = true;
    this.clearReconnect();
    this.stopPing();
    const socket = this.socket;
    this.socket = undefined;
    if (socket) {
      socket.onclose = null;
      socket.onmessage = null;
      socket.close(1000, 'client closing');
    }
    this.setState(unsynced(this.state));
    this.setStatus('disconnected');
    this.failPending('closed', 'The client was closed.');
    this.failReady(new StationClientError('closed', 'The client was closed.'));
  }

  /** Change the state outside the event stream (a UI clearing a finished job); listeners of `state` hear it. */
  edit(change: (state: StationState) => StationState): void {
    this.setState(change(this.state));
  }

  /** Listen to one message type; returns an unsubscribe function. `*` receives every message. */
  on<T extends ServerMessage['type']>(type: T, listener: Listener<MessageOf<T>>): () => void;
  on(type: '*', listener: Listener<ServerMessage>): () => void;
  on(type: 'status', listener: Listener<ConnectionStatus>): () => void;
  on(type: 'state', listener: Listener<StationState>): () => void;
  /** A reconnect was scheduled: the attempt's number (1, 2, …). */
  on(type: 'reconnect', listener: Listener<number>): () => void;
  on(type: string, listener: Listener<never>): () => void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Send a command and wait for its `result` (or `snapshot`); rejects with StationClientError when refused. */
  async request(command: ClientCommand): Promise<ResultOk | SnapshotMessage> {
    const reply = await this.exchange(command);
    if (reply.type === 'snapshot') return reply;
    if (reply.type === 'error') throw new StationClientError(reply.code, reply.message);
    if (reply.ok) return reply;
    throw new StationClientError(reply.error.code, reply.error.message);
  }

  /**
   * Send a command and resolve with whatever answers it — an ok or refused `result`, an `error` frame, a `snapshot` —
   * as it came; rejects (StationClientError) only when there is no answer: not connected, closed, or timeout.
   */
  exchange(command: ClientCommand): Promise<Answer> {
    const socket = this.socket;
    if (!socket || socket.readyState !== 1) return Promise.reject(new StationClientError('not_connected', `Not connected to ${this.url}.`));
    const requestId = command.requestId ?? `c${++this.seq}`;
    const timeoutMs = this.options.requestTimeoutMs ?? 30_000;
    return new Promise<Answer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new StationClientError('timeout', `No answer to ${command.type} within ${Math.round(timeoutMs / 100) / 10} s.`));
      }, timeoutMs);
      this.pending.set(requestId, { resolve, reject, timer });
      socket.send(JSON.stringify({ ...command, requestId }));
    });
  }

  async ping(): Promise<number> {
    const started = Date.now();
    const pong = new Promise<void>((resolve) => {
      const off = this.on('pong', () => { off(); resolve(); });
    });
    this.send({ type: 'ping', timestamp: started });
    await pong;
    return Date.now() - started;
  }

  async auth(token: string): Promise<void> {
    await this.request({ type: 'auth', token });
    this.authenticated = true;
  }

  async getSnapshot(): Promise<SnapshotMessage> {
    return (await this.request({ type: 'get_snapshot' })) as SnapshotMessage;
  }

  async getHistory(query: { limit?: number; deviceId?: string; before?: number } = {}): Promise<Job[]> {
    return ((await this.request({ type: 'get_history', ...query })) as ResultOk & { jobs: Job[] }).jobs;
  }

  /** The newest log lines the station kept for these jobs (up to `limit` per job, default 500), oldest first. */
  async getJobLogs(jobIds: string[], limit?: number): Promise<Record<string, JobLogLine[]>> {
    const command: ClientCommand = limit === undefined ? { type: 'get_job_logs', jobIds } : { type: 'get_job_logs', jobIds, limit };
    return ((await this.request(command)) as ResultOk & { logs: Record<string, JobLogLine[]> }).logs;
  }

  async startFlash(request: StartFlashRequest): Promise<{ jobId: string; jobIds: string[]; status: 'started' | 'queued'; batchId?: string }> {
    const r = (await this.request({ type: 'start_flash', ...request })) as ResultOk;
    return r as unknown as { jobId: string; jobIds: string[]; status: 'started' | 'queued'; batchId?: string };
  }

  async pause(jobId: string): Promise<Job> {
    return ((await this.request({ type: 'pause_flash', jobId })) as ResultOk & { job: Job }).job;
  }

  async resume(jobId: string): Promise<Job> {
    return ((await this.request({ type: 'resume_flash', jobId })) as ResultOk & { job: Job }).job;
  }

  async cancel(jobId: string): Promise<Job> {
    return ((await this.request({ type: 'cancel_flash', jobId })) as ResultOk & { job: Job }).job;
  }

  async setLimits(bytesPerSecond: number | null, jobId?: string): Promise<void> {
    await this.request(jobId === undefined ? { type: 'set_limits', bytesPerSecond } : { type: 'set_limits', jobId, bytesPerSecond });
  }

  /** Pause / resume / cancel every job it applies to; resolves with the jobs affected. */
  async all(action: 'pause' | 'resume' | 'cancel'): Promise<Job[]> {
    return ((await this.request({ type: `${action}_all` })) as ResultOk & { jobs: Job[] }).jobs;
  }

  async getSettings(): Promise<Record<string, unknown>> {
    return ((await this.request({ type: 'get_settings' })) as ResultOk & { settings: Record<string, unknown> }).settings;
  }

  async updateSettings(settings: Record<string, unknown>): Promise<Record<string, unknown>> {
    return ((await this.request({ type: 'update_settings', settings })) as ResultOk & { settings: Record<string, unknown> }).settings;
  }

  /** Publish an event of a job this program runs itself (needs the token). */
  async publish(event: FlashEventMessage): Promise<void> {
    await this.request({ ...event });
  }

  /** Send a frame without waiting for an answer. */
  send(command: ClientCommand): void {
    if (this.socket?.readyState !== 1) throw new StationClientError('not_connected', `Not connected to ${this.url}.`);
    this.socket.send(JSON.stringify(command));
  }

  private open(): void {
    this.setStatus(this.reconnectAttempts > 0 ? 'reconnecting' : 'connecting');
    let url = this.url;
    if (this.options.token && this.options.tokenInUrl) url += `${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(this.options.token)}`;
    let socket: WebSocketLike;
    try {
      socket = new this.options.WebSocket(url);
    } catch (e) {
      // A malformed URL: trying again would not help.
      this.lastError = (e as Error).message;
      this.setStatus('failed');
      this.failReady(new StationClientError('bad_url', `Cannot connect to ${url}: ${(e as Error).message}`));
      return;
    }
    this.socket = socket;
    let sawSnapshot = false;
    let socketError: string | undefined;
    socket.onmessage = (event) => {
      if (this.socket !== socket) return;
      let m: ServerMessage;
      try {
        m = JSON.parse(typeof event.data === 'string' ? event.data : String(event.data)) as ServerMessage;
      } catch {
        return;
      }
      if (!m || typeof m !== 'object' || typeof m.type !== 'string') return;
      this.lastMessageTime = Date.now();
      if (m.type === 'hello') {
        this.hello = m;
        this.authenticated = m.authenticated;
      }
      this.route(m);
      if (m.type === 'snapshot' && !sawSnapshot) {
        sawSnapshot = true;
        void this.afterSnapshot(socket);
      }
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.stopPing();
      this.lastError = event.reason ? `${event.code} ${event.reason}` : `closed (${event.code})`;
      this.failPending('disconnected', `Connection closed (${event.code}${event.reason ? `: ${event.reason}` : ''}).`);
      this.setState(unsynced(this.state));
      const limit = this.options.maxReconnectAttempts ?? Infinity;
      const giveUpFirst = !this.everOpened && !this.options.retryInitialConnect;
      if (this.closedByUser || giveUpFirst || this.options.reconnect === false || this.reconnectAttempts >= limit) {
        this.setStatus(this.closedByUser ? 'disconnected' : 'failed');
        const why = socketError ? `${event.code}: ${socketError}` : String(event.code);
        this.failReady(new StationClientError('unreachable', `Cannot reach the station at ${this.url} (${why}).`));
        return;
      }
      this.reconnectAttempts++;
      const initial = this.options.initialBackoffMs ?? 500;
      const delay = this.options.backoff === 'fixed'
        ? initial
        : Math.min(this.options.maxBackoffMs ?? 10_000, initial * 2 ** (this.reconnectAttempts - 1)) * (0.75 + Math.random() * 0.5);
      this.setStatus('reconnecting');
      this.emit('reconnect', this.reconnectAttempts);
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = undefined;
        if (!this.closedByUser) this.open();
      }, delay);
    };
    // onclose follows with the code; Node's ws also says why (a refused connection, an untrusted certificate).
    socket.onerror = (event: unknown) => {
      const message = (event as { message?: unknown } | null)?.message;
      if (typeof message === 'string' && message) socketError = message.slice(0, 300);
    };
  }

  private async afterSnapshot(socket: WebSocketLike): Promise<void> {
    try {
      if (this.options.token && !this.authenticated) await this.auth(this.options.token);
      if (this.socket !== socket) return;
      this.reconnectAttempts = 0;
      this.everOpened = true;
      this.lastError = null;
      this.startPing();
      this.setStatus('connected');
      for (const w of this.readyWaiters.splice(0)) w.resolve();
    } catch (e) {
      // After a reconnect the token may have been changed: stay connected, read-only, rather than hang.
      if (this.everOpened && this.socket === socket) this.setStatus('connected');
      this.failReady(e as Error);
    }
  }

  private clearReconnect(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
  }

  private startPing(): void {
    this.stopPing();
    const every = this.options.pingIntervalMs ?? 0;
    if (every > 0) {
      this.pingTimer = setInterval(() => {
        if (this.socket?.readyState === 1) this.socket.send(JSON.stringify({ type: 'ping', timestamp: Date.now() }));
      }, every);
    }
  }

  private stopPing(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = undefined;
  }

  private setState(next: StationState): void {
    if (next === this.state) return;
    this.state = next;
    this.emit('state', next);
  }

  private route(m: ServerMessage): void {
    const requestId = (m as { requestId?: string }).requestId;
    this.setState(reduce(this.state, m));
    if (requestId !== undefined && (m.type === 'result' || m.type === 'error' || m.type === 'snapshot')) {
      const p = this.pending.get(requestId);
      if (p) {
        this.pending.delete(requestId);
        clearTimeout(p.timer);
        p.resolve(m);
      }
    }
    this.emit(m.type, m);
    this.emit('*', m);
  }

  private emit(type: string, value: unknown): void {
    const set = this.listeners.get(type);
    if (!set) return;
    for (const l of [...set]) (l as Listener<unknown>)(value);
  }

  private setStatus(status: ConnectionStatus): void {
    if (this.status === status) return;
    this.status = status;
    this.emit('status', status);
  }

  private failPending(code: string, message: string): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new StationClientError(code, message));
      this.pending.delete(id);
    }
  }

  private failReady(e: Error): void {
    for (const w of this.readyWaiters.splice(0)) w.reject(e);
  }
}
