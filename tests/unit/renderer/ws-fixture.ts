// A small real WebSocket station stand-in for renderer tests: speaks hello/snapshot, records frames, can be stopped
// and restarted on the same port, or replaced by a listener that refuses (and counts) every upgrade.
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { BatchSummaryMessage, Device, Job, JobLogLine, ServerMessage } from '../../../src/protocol/messages.js';
import { wsText } from '../../helpers/ws-text.js';

export interface FixtureState {
  devices: Device[];
  jobs: Job[];
  batches?: BatchSummaryMessage[];
  /** What get_job_logs answers, per job. */
  logs?: Record<string, JobLogLine[]>;
}

export class StationFixture {
  port = 0;
  received: Record<string, unknown>[] = [];
  refusedUpgrades = 0;
  private http: Server | null = null;
  private wss: WebSocketServer | null = null;
  private readonly clients = new Set<WebSocket>();
  private readonly sockets = new Set<Socket>();

  constructor(public state: FixtureState) {}

  get url(): string {
    return `ws://127.0.0.1:${this.port}/flash-progress`;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  async start(): Promise<void> {
    this.wss = new WebSocketServer({ noServer: true });
    this.http = createServer();
    this.http.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.http.on('upgrade', (req, socket, head) => {
      this.wss?.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
    });
    await this.listen(this.http);
  }

  /** Listen on the same port but destroy every upgrade, counting them. */
  async startRefusing(): Promise<void> {
    this.http = createServer();
    this.http.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.http.on('upgrade', (_req, socket) => {
      this.refusedUpgrades++;
      socket.destroy();
    });
    await this.listen(this.http);
  }

  broadcast(message: ServerMessage): void {
    const data = JSON.stringify(message);
    for (const c of this.clients) c.send(data);
  }

  async stop(): Promise<void> {
    for (const c of this.clients) c.terminate();
    this.clients.clear();
    for (const s of this.sockets) s.destroy();
    this.wss?.close();
    this.wss = null;
    const http = this.http;
    this.http = null;
    if (http) await new Promise<void>((r) => http.close(() => r()));
  }

  private accept(ws: WebSocket): void {
    this.clients.add(ws);
    ws.on('close', () => this.clients.delete(ws));
    ws.on('message', (data) => {
      const msg = JSON.parse(wsText(data)) as Record<string, unknown>;
      this.received.push(msg);
      if (msg.type === 'ping') ws.send(JSON.stringify({ type: 'pong', timestamp: Date.now() }));
      else if (msg.type === 'get_snapshot') ws.send(JSON.stringify({ type: 'snapshot', ...this.state, timestamp: Date.now(), requestId: msg.requestId }));
      else if (msg.type === 'get_job_logs' && this.state.logs) {
        const logs = Object.fromEntries((msg.jobIds as string[]).flatMap((id) => (this.state.logs?.[id] ? [[id, this.state.logs[id]]] : [])));
        ws.send(JSON.stringify({ type: 'result', requestId: msg.requestId, ok: true, logs }));
      } else if (msg.type === 'pause_flash') ws.send(JSON.stringify({ type: 'result', requestId: msg.requestId, ok: true, job: { jobId: msg.jobId } }));
      else ws.send(JSON.stringify({ type: 'result', requestId: msg.requestId, ok: false, error: { code: 'job_not_found', message: 'No such job' } }));
    });
    ws.send(JSON.stringify({ type: 'hello', protocol: 'flash-station/1', version: '9.9.9', authenticated: true, timestamp: Date.now() }));
    const batches = this.state.batches ? { batches: this.state.batches } : {};
    ws.send(JSON.stringify({ type: 'snapshot', devices: this.state.devices, jobs: this.state.jobs, ...batches, timestamp: Date.now() }));
  }

  private listen(http: Server): Promise<void> {
    return new Promise((resolve, reject) => {
      http.once('error', reject);
      http.listen(this.port, '127.0.0.1', () => {
        this.port = (http.address() as AddressInfo).port;
        resolve();
      });
    });
  }
}

export function device(id: string, state: Device['state'] = 'idle'): Device {
  return { id, protocol: 'fastboot', transport: 'sim', name: 'Simulated', serial: id, state, info: {}, partitions: [{ name: 'boot', size: 1 << 26 }] };
}

export function job(jobId: string, deviceId: string, patch: Partial<Job> = {}): Job {
  return {
    jobId,
    deviceId,
    state: 'running',
    stage: 'Writing boot',
    progress: 10,
    bytesTransferred: 100,
    totalBytes: 1000,
    transferSpeed: 50,
    estimatedTimeRemaining: 18,
    createdAt: 1,
    startedAt: 2,
    ...patch,
  };
}

/** Wait until `check` is true, polling; fails with `what` after `ms`. */
export async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
