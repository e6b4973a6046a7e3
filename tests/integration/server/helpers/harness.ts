// Test harness: a real server on port 0 over a test station in a temp dir, and a frame-collecting ws client
// that checks every frame it receives against the protocol's schemas.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { startServer, type RunningServer, type ServerOptions } from '../../../../src/server/server.js';
import type { StationApi } from '../../../../src/core/station-api.js';
import { checkServerMessage } from '../../../../src/server/validate.js';
import type { ServerMessage } from '../../../../src/protocol/messages.js';
import { wsText } from '../../../helpers/ws-text.js';
import { createTestStation } from './test-station.js';

export interface Harness {
  dir: string;
  token: string;
  server: RunningServer;
  station: StationApi & { emit(m: ServerMessage): void };
  url: string;
  http: string;
  close(): Promise<void>;
}

export async function startHarness(options: Partial<ServerOptions> & { station?: StationApi & { emit(m: ServerMessage): void }; bytesPerSecond?: number } = {}): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'fs-server-'));
  const token = randomBytes(16).toString('hex');
  const station = options.station ?? createTestStation({ dir: join(dir, 'parts'), bytesPerSecond: options.bytesPerSecond ?? null });
  const server = await startServer(station, { host: '127.0.0.1', port: 0, dataDir: dir, token, ...options });
  return {
    dir, token, server, station,
    url: server.url,
    http: `http://127.0.0.1:${server.port}`,
    async close() {
      await server.close();
      await station.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function makeImage(dir: string, name: string, bytes: number): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, randomBytes(bytes));
  return path;
}

export class Conn {
  readonly frames: ServerMessage[] = [];
  readonly invalid: string[] = [];
  readonly ws: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: Array<() => void> = [];

  constructor(url: string, options: WebSocket.ClientOptions = {}) {
    this.ws = new WebSocket(url, { perMessageDeflate: false, ...options });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
      this.ws.once('error', reject);
    });
    this.closed = new Promise((resolve) => this.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    this.ws.on('error', () => undefined);
    this.ws.on('message', (data) => {
      const m = JSON.parse(wsText(data)) as ServerMessage;
      const problem = checkServerMessage(m);
      if (problem) this.invalid.push(problem);
      this.frames.push(m);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  send(value: unknown): void {
    this.ws.send(typeof value === 'string' ? value : JSON.stringify(value));
  }

  /** Wait for the first frame (from `from` on) that matches. */
  async next<T extends ServerMessage = ServerMessage>(match: (m: ServerMessage) => boolean, timeoutMs = 10_000, from = 0): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.slice(from).find(match);
      if (found) return found as T;
      if (Date.now() > deadline) throw new Error(`timed out; frames: ${this.frames.map((f) => f.type).join(',')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 100);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  async request(value: Record<string, unknown>, timeoutMs = 10_000): Promise<ServerMessage> {
    const requestId = `r${Math.random().toString(36).slice(2)}`;
    this.send({ ...value, requestId });
    return this.next((m) => (m as { requestId?: string }).requestId === requestId, timeoutMs);
  }

  close(): void {
    this.ws.terminate();
  }
}

export async function connect(url: string, options?: WebSocket.ClientOptions): Promise<Conn> {
  const c = new Conn(url, options);
  await c.opened;
  await c.next((m) => m.type === 'snapshot');
  return c;
}

/** A bare TCP client that completes the WebSocket handshake and then does nothing it is not told to (no pongs). */
export async function rawClient(port: number): Promise<{ socket: import('node:net').Socket; received: () => number; ended: Promise<void> }> {
  const { connect: tcp } = await import('node:net');
  const socket = tcp(port, '127.0.0.1');
  let bytes = 0;
  let head = '';
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.write(`GET /flash-progress HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
    socket.on('data', (d: Buffer) => {
      bytes += d.length;
      if (head !== null && !head.includes('\r\n\r\n')) {
        head += d.toString('latin1');
        if (head.includes('\r\n\r\n')) {
          if (head.startsWith('HTTP/1.1 101')) resolve();
          else reject(new Error(head.split('\r\n')[0]));
        }
      }
    });
  });
  socket.on('error', () => undefined);
  return { socket, received: () => bytes, ended };
}
