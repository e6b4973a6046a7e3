// The WebSocket side of the station: accepts upgraded sockets, says hello, answers commands, fans station events out
// to every client through its own backpressured channel, rate-limits floods and drops dead peers.
import { snapshotOf } from './snapshot.js';
import type { IncomingMessage } from 'node:http';
import { WebSocket, type RawData } from 'ws';
import type { StationApi } from '../core/station-api.js';
import { PROTOCOL, type ServerMessage } from '../protocol/messages.js';
import { ClientChannel, type ChannelCounters, type ChannelLimits, type PreparedFrame } from './client-channel.js';
import { runCommand } from './commands.js';
import { createRateLimiter, type RateLimiter } from './rate-limit.js';
import { parseClientFrame } from './validate.js';

export interface HubOptions {
  version: string;
  checkToken(token: string): boolean;
  limits: ChannelLimits;
  /** Frames per second a read-only client may send, and the burst it may send at once; authenticated clients get 5×. */
  ratePerSecond: number;
  rateBurst: number;
  /** Frames refused in one flood before the client is disconnected. */
  maxRefusedFrames: number;
  heartbeatMs: number;
}

export interface HubCounters extends ChannelCounters {
  framesReceived: number;
  framesRateLimited: number;
  invalidFrames: number;
  connectionsAccepted: number;
  /** Idle read-only connections closed to make room for another client. */
  idleEvicted: number;
  /** Broadcast batches handed to the clients (events per batch = framesSent / clients / batches). */
  batches: number;
}

interface Client {
  /** Names the connection for per-publisher limits on outside jobs. */
  id: string;
  ws: WebSocket;
  channel: ClientChannel;
  authenticated: boolean;
  alive: boolean;
  /** performance.now() of the last frame received (or of connecting). */
  lastFrameAt: number;
  limiter: RateLimiter;
  refused: number;
  lastRefusedAt: number;
  rateNoticeAt: number;
}

/** Publishing agents send many frames legitimately (16 jobs × 10/s and more); readers send a few pings. */
const AUTHENTICATED_RATE_FACTOR = 5;

const JOB_EVENTS = new Set(['flash_started', 'flash_completed', 'flash_failed', 'flash_paused', 'flash_resumed', 'flash_queued', 'flash_log']);

/** Serialise a message once for every client, with the keys backpressure needs. */
export function prepare(message: ServerMessage): PreparedFrame {
  const data = Buffer.from(JSON.stringify(message));
  if (message.type === 'flash_progress') return { data, coalesceKey: message.jobId };
  if (JOB_EVENTS.has(message.type)) return { data, jobId: (message as { jobId: string }).jobId };
  return { data };
}

export class WsHub {
  readonly counters: HubCounters = {
    framesSent: 0, framesCoalesced: 0, framesDropped: 0, slowClientsDisconnected: 0,
    framesReceived: 0, framesRateLimited: 0, invalidFrames: 0, connectionsAccepted: 0, idleEvicted: 0, batches: 0,
  };
  private readonly clients = new Set<Client>();
  /** Prepared events of this turn of the event loop, not yet handed to the clients. */
  private batch: PreparedFrame[] = [];
  private nextClientId = 0;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly unsubscribe: () => void;

  constructor(private readonly station: StationApi, private readonly options: HubOptions) {
    this.unsubscribe = station.subscribe((message) => this.broadcast(message));
    this.heartbeat = setInterval(() => this.beat(), options.heartbeatMs);
    this.heartbeat.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /** Connections without the token. */
  get readOnlyCount(): number {
    let n = 0;
    for (const c of this.clients) if (!c.authenticated) n++;
    return n;
  }

  /**
   * Close the read-only connection that has been silent longest, if it has been silent for `idleMs`, to make room for
   * a new one (code 1013, try again later). False when no read-only connection is that idle.
   */
  evictIdleReadOnly(idleMs: number, now = performance.now()): boolean {
    let oldest: Client | undefined;
    for (const c of this.clients) {
      if (c.authenticated || now - c.lastFrameAt < idleMs) continue;
      if (!oldest || c.lastFrameAt < oldest.lastFrameAt) oldest = c;
    }
    if (!oldest) return false;
    this.clients.delete(oldest);
    oldest.channel.discard();
    oldest.ws.close(1013, 'Station full: an idle read-only connection made room');
    const ws = oldest.ws;
    setTimeout(() => ws.terminate(), 500).unref();
    this.counters.idleEvicted++;
    return true;
  }

  get laggingClients(): number {
    let n = 0;
    for (const c of this.clients) if (c.channel.lagging) n++;
    return n;
  }

  /** Bytes held back for lagging clients (not yet handed to their sockets). */
  get heldBytes(): number {
    let n = 0;
    for (const c of this.clients) n += c.channel.heldBytes;
    return n;
  }

  /**
   * Queue a station event for every client. Events of one turn of the event loop (an agent's burst of 16 progress
   * frames arrives in one socket read) go out together: each client's socket is corked for the batch, so it costs one
   * write system call per client per batch instead of one per client per event.
   */
  broadcast(message: ServerMessage): void {
    if (this.clients.size === 0) return;
    this.batch.push(prepare(message));
    if (this.batch.length === 1) setImmediate(this.flushBatch);
  }

  /** Hand the queued events to every client now (also before any frame sent to one client, to keep the order). */
  readonly flushBatch = (): void => {
    if (this.batch.length === 0) return;
    const frames = this.batch;
    this.batch = [];
    this.counters.batches++;
    for (const client of this.clients) client.channel.pushAll(frames);
  };

  /** Take over an upgraded socket. `token` is what the upgrade carried (undefined: none; null: a wrong one). */
  accept(ws: WebSocket, _req: IncomingMessage, auth: 'yes' | 'no' | 'wrong'): void {
    const client: Client = {
      id: `ws-${++this.nextClientId}`,
      ws,
      channel: new ClientChannel(ws, this.options.limits, this.counters),
      authenticated: auth === 'yes',
      alive: true,
      lastFrameAt: performance.now(),
      limiter: this.limiterFor(auth === 'yes'),
      refused: 0,
      lastRefusedAt: 0,
      rateNoticeAt: 0,
    };
    this.clients.add(client);
    this.counters.connectionsAccepted++;
    ws.on('pong', () => { client.alive = true; });
    ws.on('message', (data, isBinary) => this.onFrame(client, data, isBinary));
    ws.on('error', () => { /* the close event follows; ws already closed with the right code (e.g. 1009) */ });
    ws.on('close', () => {
      this.clients.delete(client);
      client.channel.discard();
    });
    this.send(client, { type: 'hello', protocol: PROTOCOL, version: this.options.version, authenticated: client.authenticated, timestamp: Date.now() });
    this.send(client, snapshotOf(this.station));
    if (auth === 'wrong') {
      this.send(client, { type: 'error', code: 'unauthorized', message: 'The token given when connecting is wrong; connected read-only. Send {"type":"auth","token":…} with the station token.' });
    }
  }

  /** Drop every session's authentication (the token changed); they stay connected, read-only. */
  revokeAll(message: string): void {
    for (const client of this.clients) {
      if (!client.authenticated) continue;
      client.authenticated = false;
      client.limiter = this.limiterFor(false);
      this.send(client, { type: 'error', code: 'unauthorized', message });
    }
  }

  /** Close every client (1001 going away) and stop the heartbeat. */
  close(): void {
    clearInterval(this.heartbeat);
    this.unsubscribe();
    this.flushBatch();
    for (const client of this.clients) {
      client.channel.drainAll();
      client.channel.discard();
      client.ws.close(1001, 'Station shutting down');
      const ws = client.ws;
      setTimeout(() => ws.terminate(), 500).unref();
    }
  }

  terminateAll(): void {
    for (const client of this.clients) client.ws.terminate();
    this.clients.clear();
  }

  private rateOf(authenticated: boolean): number {
    return authenticated ? this.options.ratePerSecond * AUTHENTICATED_RATE_FACTOR : this.options.ratePerSecond;
  }

  private limiterFor(authenticated: boolean): RateLimiter {
    const factor = authenticated ? AUTHENTICATED_RATE_FACTOR : 1;
    return createRateLimiter(this.options.ratePerSecond * factor, this.options.rateBurst * factor);
  }

  private send(client: Client, message: ServerMessage): void {
    this.flushBatch(); // events queued before this frame reach the client before it
    client.channel.push(prepare(message));
  }

  private onFrame(client: Client, data: RawData, isBinary: boolean): void {
    client.alive = true;
    client.lastFrameAt = performance.now();
    this.counters.framesReceived++;
    const now = performance.now();
    if (!client.limiter.take(now)) {
      this.counters.framesRateLimited++;
      client.refused++;
      client.lastRefusedAt = now;
      if (client.refused > this.options.maxRefusedFrames) {
        client.ws.close(1008, 'Rate limit exceeded');
        return;
      }
      if (now - client.rateNoticeAt > 1000) {
        client.rateNoticeAt = now;
        this.send(client, {
          type: 'error', code: 'rate_limited',
          message: `Too many frames: at most ${this.rateOf(client.authenticated)} per second; frames over the limit are ignored and a flood closes the connection.`,
        });
      }
      return;
    }
    if (client.refused > 0 && now - client.lastRefusedAt > 1000) client.refused = 0;
    if (isBinary) {
      this.counters.invalidFrames++;
      this.send(client, { type: 'error', code: 'bad_request', message: 'Binary frames are not part of flash-station/1; send JSON text frames.' });
      return;
    }
    const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8');
    const parsed = parseClientFrame(text);
    if (!parsed.ok) {
      this.counters.invalidFrames++;
      const { code, message, requestId } = parsed;
      this.send(client, requestId === undefined ? { type: 'error', code, message } : { type: 'error', code, message, requestId });
      return;
    }
    const { requestId } = parsed.command;
    runCommand(
      {
        station: this.station,
        authenticated: client.authenticated,
        publisher: client.id,
        checkToken: (t) => this.options.checkToken(t),
        setAuthenticated: (v) => {
          client.authenticated = v;
          client.limiter = this.limiterFor(v);
        },
      },
      parsed.command,
    )
      .then((reply) => {
        if (reply) this.send(client, reply);
      })
      .catch((e: unknown) => {
        // runCommand answers every refusal itself; what reaches here is a fault of the station or of the socket. The
        // client still gets an answer instead of waiting for ever (and a socket that is gone takes nothing).
        const message = `The station could not carry out ${parsed.command.type}: ${e instanceof Error ? e.message : String(e)}`;
        try {
          this.send(client, requestId === undefined ? { type: 'error', code: 'internal', message } : { type: 'error', code: 'internal', message, requestId });
        } catch {
          // The connection is closing; nothing more to tell it.
        }
      });
  }

  private beat(): void {
    for (const client of this.clients) {
      if (!client.alive) {
        client.channel.discard();
        client.ws.terminate();
        continue;
      }
      client.alive = false;
      if (client.ws.readyState === WebSocket.OPEN) client.ws.ping();
    }
  }
}
