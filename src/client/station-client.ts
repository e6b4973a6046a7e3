/**
 * A typed client for the `flash-station/1` WebSocket protocol, for Node (pass `ws`'s WebSocket) and browsers (pass
 * `globalThis.WebSocket`). Connects, authenticates, reconnects with backoff, matches commands to answers by requestId,
 * rebuilds devices and jobs from hello/snapshot and the event stream. No Node built-ins.
 */
import type {
  ClientCommand, Device, FlashEventMessage, HelloMessage, Job, JobLogLine, ResultOk, ServerMessage, SnapshotMessage, StartFlashCommand,
} from '../protocol/messages.js';
import { applyMessage, emptyState, type StationState } from './job-state.js';

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
  maxReconnectAttempts?: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Keep retrying when the very first connection fails (default false: `connect()` rejects at once). */
  retryInitialConnect?: boolean;
  /** A command with no answer within this time is rejected with code `timeout` (default 30 s). */
  requestTimeoutMs?: number;
}

/** What `start_flash` takes: a device (or several, or a selector) and a partition + image, or a plan. */
export type StartFlashRequest = Omit<StartFlashCommand, 'type' | 'requestId'> & {
  selector?: { protocol?: string; transport?: string; state?: string; serial?: string; product?: string };
  waitForDeviceMs?: number;
};

export type ConnectionStatus = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

/** A command the station refused, or a connection problem. `code` is the protocol's error code. */
export class StationClientError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'StationClientError';
  }
}

type MessageOf<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;
type Listener<T> = (value: T) => void;

interface Pending {
  resolve(m: ServerMessage): void;
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

  private socket: WebSocketLike | undefined;
  private readonly listeners = new Map<string, Set<Listener<never>>>();
  private readonly pending = new Map<string, Pending>();
  private seq = 0;
  private closedByUser = false;
  private everOpened = false;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
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

  /** Connect; resolves once hello and snapshot arrived (and the token was accepted, when one was given). */
  connect(): Promise<void> {
    this.closedByUser = false;
    if (this.status === 'open') return Promise.resolve();
    const ready = new Promise<void>((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
    if (this.status === 'idle' || this.status === 'closed') this.open();
    return ready;
  }

  /** Close for good (no reconnect). Pending commands are rejected with code `closed`. */
  close(): void {
    this.closedByUser = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.socket?.close(1000, 'client closing');
    this.setStatus('closed');
    this.failPending('closed', 'The client was closed.');
    this.failReady(new StationClientError('closed', 'The client was closed.'));
  }

  /** Listen to one message type; returns an unsubscribe function. `*` receives every message. */
  on<T extends ServerMessage['type']>(type: T, listener: Listener<MessageOf<T>>): () => void;
  on(type: '*', listener: Listener<ServerMessage>): () => void;
  on(type: 'status', listener: Listener<ConnectionStatus>): () => void;
  on(type: 'state', listener: Listener<StationState>): () => void;
  on(type: string, listener: Listener<never>): () => void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Send a command and wait for its `result` (or `snapshot`); rejects with StationClientError when refused. */
  async request(command: ClientCommand): Promise<ResultOk | SnapshotMessage> {
    const socket = this.socket;
    if (!socket || socket.readyState !== 1) throw new StationClientError('not_connected', `Not connected to ${this.url}.`);
    const requestId = command.requestId ?? `c${++this.seq}`;
    const reply = await new Promise<ServerMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new StationClientError('timeout', `No answer to ${command.type} within ${this.options.requestTimeoutMs ?? 30_000} ms.`));
      }, this.options.requestTimeoutMs ?? 30_000);
      this.pending.set(requestId, { resolve, reject, timer });
      socket.send(JSON.stringify({ ...command, requestId }));
    });
    if (reply.type === 'snapshot') return reply;
    if (reply.type === 'error') throw new StationClientError(reply.code, reply.message);
    if (reply.type === 'result' && reply.ok) return reply;
    if (reply.type === 'result') throw new StationClientError(reply.error.code, reply.error.message);
    throw new StationClientError('internal', `Unexpected answer ${reply.type}.`);
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
    const r = (await this.request({ type: 'start_flash', ...request } as ClientCommand)) as ResultOk;
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
    await this.request({ ...event } as ClientCommand);
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
      this.failReady(new StationClientError('bad_url', `Cannot connect to ${url}: ${(e as Error).message}`));
      this.setStatus('closed');
      return;
    }
    this.socket = socket;
    let sawSnapshot = false;
    socket.onmessage = (event) => {
      let m: ServerMessage;
      try {
        m = JSON.parse(typeof event.data === 'string' ? event.data : String(event.data)) as ServerMessage;
      } catch {
        return;
      }
      if (m.type === 'hello') {
        this.hello = m;
        this.authenticated = m.authenticated;
      }
      this.route(m);
      if (m.type === 'snapshot' && !sawSnapshot) {
        sawSnapshot = true;
        void this.afterSnapshot();
      }
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.failPending('disconnected', `Connection closed (${event.code}${event.reason ? `: ${event.reason}` : ''}).`);
      const limit = this.options.maxReconnectAttempts ?? Infinity;
      const giveUpFirst = !this.everOpened && !this.options.retryInitialConnect;
      if (this.closedByUser || giveUpFirst || this.options.reconnect === false || this.reconnectAttempts >= limit) {
        this.setStatus('closed');
        this.failReady(new StationClientError('unreachable', `Cannot reach the station at ${this.url} (${event.code}).`));
        return;
      }
      this.reconnectAttempts++;
      const initial = this.options.initialBackoffMs ?? 500;
      const delay = Math.min(this.options.maxBackoffMs ?? 10_000, initial * 2 ** (this.reconnectAttempts - 1));
      this.setStatus('reconnecting');
      this.reconnectTimer = setTimeout(() => this.open(), delay * (0.75 + Math.random() * 0.5));
    };
    socket.onerror = () => { /* onclose follows with the code */ };
  }

  private async afterSnapshot(): Promise<void> {
    try {
      if (this.options.token && !this.authenticated) await this.auth(this.options.token);
      this.reconnectAttempts = 0;
      this.everOpened = true;
      this.setStatus('open');
      for (const w of this.readyWaiters.splice(0)) w.resolve();
    } catch (e) {
      // After a reconnect the token may have been changed: stay connected, read-only, rather than hang.
      if (this.everOpened) this.setStatus('open');
      this.failReady(e as Error);
    }
  }

  private route(m: ServerMessage): void {
    const requestId = (m as { requestId?: string }).requestId;
    if (requestId !== undefined && (m.type === 'result' || m.type === 'error' || m.type === 'snapshot')) {
      const p = this.pending.get(requestId);
      if (p) {
        this.pending.delete(requestId);
        clearTimeout(p.timer);
        p.resolve(m);
      }
    }
    if (applyMessage(this.state, m)) this.emit('state', this.state);
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
