// The station's MQTT link (contract §9): status with a Last Will, state at most once a second, every event in order
// through a bounded on-disk queue, and — with --mqtt-commands — commands checked against the station token.
import { join } from 'node:path';
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import type { StationApi } from '../core/station-api.js';
import type { Job, ServerMessage } from '../protocol/messages.js';
import { DiskQueue, DEFAULT_QUEUE_LIMITS, type DiskQueueLimits } from './disk-queue.js';
import { connectOptions, type MqttConnectionOptions } from './mqtt-options.js';
import { CommandGate, type CommandGateCounters } from './command-gate.js';
import { stationIdProblem, topicOf } from './topics.js';
import { FlashError } from '../contracts/errors.js';

export type LinkState = 'connecting' | 'connected' | 'disconnected' | 'refused' | 'denied' | 'closed';

export interface StationLinkOptions extends MqttConnectionOptions {
  stationId: string;
  /** Obey commands on flash-station/ID/commands (each must carry the station token). */
  commands: boolean;
  /** The on-disk event queue lives in DATA_DIR/mqtt-queue. */
  dataDir: string;
  queueLimits?: DiskQueueLimits;
  /** Least time between two `state` publications (default 1000 ms). */
  stateIntervalMs?: number;
  /** Wait between reconnection attempts (default 2000 ms). */
  reconnectMs?: number;
  /** Where warnings go (serve: stderr). */
  warn?: (line: string) => void;
}

export interface LinkDeps {
  station: StationApi;
  /** The station token check of the HTTP/WebSocket server (it follows a regenerated token). */
  checkToken(token: string): boolean;
}

export interface LinkCounters extends CommandGateCounters {
  eventsPublished: number;
  statesPublished: number;
  connects: number;
  publishDenied: number;
}

/** Live jobs in `state`: running and queued, and paused ones (a paused job still holds its device). */
const LIVE = new Set<Job['state']>(['queued', 'running', 'paused']);
/** QoS 1 publications in flight at once, when the broker sets no lower receive maximum. */
const MAX_IN_FLIGHT = 64;

export class StationLink {
  readonly counters: LinkCounters;
  private linkState: LinkState = 'connecting';
  private problemText: string | undefined;
  private readonly client: MqttClient;
  private readonly queue: DiskQueue;
  private readonly gate: CommandGate;
  private readonly unsubscribe: () => void;
  private inFlight = 0;
  /** Offset (from the queue head) of the next entry to publish. */
  private sent = 0;
  private readonly acked = new Set<number>();
  private window = MAX_IN_FLIGHT;
  private stateTimer: NodeJS.Timeout | undefined;
  private lastStateAt = 0;
  private stateDirty = true;
  private deniedRetry: NodeJS.Timeout | undefined;
  private closing = false;
  private warned = new Set<string>();

  constructor(private readonly options: StationLinkOptions, private readonly deps: LinkDeps) {
    const problem = stationIdProblem(options.stationId);
    if (problem) throw new FlashError('bad_request', `--station-id "${options.stationId}": ${problem}.`);
    const base = connectOptions(options);
    this.queue = new DiskQueue(join(options.dataDir, 'mqtt-queue'), options.queueLimits ?? DEFAULT_QUEUE_LIMITS);
    this.gate = new CommandGate({
      station: deps.station,
      checkToken: (token) => deps.checkToken(token),
      reply: (message) => this.publishResult(message),
    });
    this.counters = Object.assign(this.gate.counters, { eventsPublished: 0, statesPublished: 0, connects: 0, publishDenied: 0 });
    const clientOptions: IClientOptions = {
      ...base,
      clientId: `flash-station-${options.stationId}`.slice(0, 128),
      clean: true,
      resubscribe: false,
      reconnectPeriod: options.reconnectMs ?? 2000,
      reconnectOnConnackError: true,
      connectTimeout: 10_000,
      keepalive: 30,
      will: { topic: this.topic('status'), payload: Buffer.from(JSON.stringify({ online: false, timestamp: Date.now() })), qos: 1, retain: true },
    };
    if (clientOptions.protocolVersion === 5) {
      // Commands are small; a broker must not hand the station anything larger than a WebSocket frame may be.
      clientOptions.properties = { maximumPacketSize: 1024 * 1024 + 4096 };
    }
    this.client = mqtt.connect(options.url, clientOptions);
    this.client.on('connect', (connack) => this.onConnect(connack.properties?.receiveMaximum));
    this.client.on('close', () => this.onDown());
    this.client.on('offline', () => this.onDown());
    this.client.on('error', (e) => this.onError(e));
    this.client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet));
    this.unsubscribe = deps.station.subscribe((message) => this.onEvent(message));
    if (this.queue.unreported > 0) this.warn(`mqtt: ${this.queue.unreported} queued event(s) were dropped while the broker was unreachable (queue bound reached)`);
  }

  get stationId(): string {
    return this.options.stationId;
  }

  get state(): LinkState {
    return this.linkState;
  }

  /** What is wrong with the link, for a person (refused credentials, ACL, unreachable broker). */
  get problem(): string | undefined {
    return this.problemText;
  }

  get queued(): number {
    return this.queue.length;
  }

  get queuedBytes(): number {
    return this.queue.bytes;
  }

  get dropped(): number {
    return this.queue.droppedTotal;
  }

  /** Say offline (retained), wait briefly for the queue to drain, and disconnect cleanly. */
  async close(drainMs = 2000): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.unsubscribe();
    if (this.stateTimer) clearTimeout(this.stateTimer);
    if (this.deniedRetry) clearTimeout(this.deniedRetry);
    if (this.client.connected) {
      this.flushState();
      const end = Date.now() + drainMs;
      while (this.client.connected && this.queue.length > 0 && Date.now() < end) {
        this.pump();
        await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise<void>((resolve) => {
        this.client.publish(this.topic('status'), JSON.stringify({ online: false, timestamp: Date.now() }), { qos: 1, retain: true }, () => resolve());
        setTimeout(resolve, 1000).unref();
      });
    }
    // MQTT.js's graceful end waits for every in-flight QoS 1 acknowledgement, forever when the broker is gone or
    // stalled: wait a little for them, then end by force (unacknowledged events stay in the on-disk queue).
    const settle = Date.now() + 1000;
    while (this.client.connected && this.unacknowledged() && Date.now() < settle) await new Promise((r) => setTimeout(r, 20));
    const force = !this.client.connected || this.unacknowledged();
    await new Promise<void>((resolve) => this.client.end(force, {}, () => resolve()));
    this.queue.close();
    this.linkState = 'closed';
  }

  private unacknowledged(): boolean {
    return Object.keys(this.client.outgoing).length > 0;
  }

  /** Stop at once without saying goodbye (tests: the broker then publishes the Last Will). */
  destroy(): void {
    this.closing = true;
    this.unsubscribe();
    if (this.stateTimer) clearTimeout(this.stateTimer);
    if (this.deniedRetry) clearTimeout(this.deniedRetry);
    this.client.end(true);
    this.queue.close();
    this.linkState = 'closed';
  }

  private topic(kind: Parameters<typeof topicOf>[1]): string {
    return topicOf(this.options.stationId, kind);
  }

  private warn(line: string): void {
    if (this.warned.has(line)) return;
    this.warned.add(line);
    this.options.warn?.(line);
  }

  private onConnect(receiveMaximum: number | undefined): void {
    if (this.closing) return;
    this.counters.connects++;
    this.linkState = 'connected';
    this.problemText = undefined;
    this.warned.clear();
    this.window = Math.max(1, Math.min(MAX_IN_FLIGHT, receiveMaximum ?? MAX_IN_FLIGHT));
    this.client.publish(this.topic('status'), JSON.stringify({ online: true, timestamp: Date.now() }), { qos: 1, retain: true }, (err) => {
      if (err) this.onPublishError(err, 'status');
    });
    this.stateDirty = true;
    this.flushState();
    if (this.options.commands) {
      this.client.subscribe(this.topic('commands'), { qos: 1 }, (err, granted) => {
        if (this.closing) return; // (a forced end fails what is still unacknowledged)
        const code = granted?.[0]?.qos;
        if (err || code === undefined || code >= 0x80) {
          this.linkState = 'denied';
          this.problemText = `the broker refused the subscription to ${this.topic('commands')}${err ? ` (${err.message})` : ''}: allow this user to read it in the broker's ACL`;
          this.warn(`mqtt: ${this.problemText}`);
        }
      });
    }
    this.pump();
  }

  private onDown(): void {
    if (this.closing) return;
    if (this.linkState === 'connected' || this.linkState === 'connecting') this.linkState = 'disconnected';
    // In-flight publications stay in MQTT.js's store and are resent first on the next connection; the queue keeps
    // everything after them.
  }

  private onError(e: Error & { code?: number | string }): void {
    const code = typeof e.code === 'number' ? e.code : undefined;
    if (code !== undefined && (code === 4 || code === 5 || code === 0x86 || code === 0x87 || code === 0x8c)) {
      this.linkState = 'refused';
      this.problemText = `the broker refused the connection (${e.message}): check --mqtt-username, --mqtt-password-file and the broker's ACL`;
    } else {
      if (this.linkState !== 'refused' && this.linkState !== 'denied') this.linkState = 'disconnected';
      this.problemText = `broker ${this.options.url} unreachable (${e.message}); events are queued on disk until it is back`;
    }
    this.warn(`mqtt: ${this.problemText}`);
  }

  private onPublishError(err: Error & { code?: number | string }, what: string): void {
    if (this.closing) return;
    // MQTT 5 answers a publication the ACL refuses with PUBACK reason 0x87 (3.1.1 brokers drop it silently).
    if (err.code === 0x87 || /not authori[sz]ed/i.test(err.message)) {
      this.counters.publishDenied++;
      this.linkState = 'denied';
      this.problemText = `the broker's ACL refuses ${what} on ${this.topic(what === 'results' || what === 'status' || what === 'state' ? what : 'events')}: allow this user to write flash-station/${this.options.stationId}/#`;
      this.warn(`mqtt: ${this.problemText}`);
    } else {
      this.problemText = `publishing ${what} failed: ${err.message}`;
    }
  }

  private onEvent(message: ServerMessage): void {
    if (message.type === 'pong' || message.type === 'result') return;
    const dropped = this.queue.push(JSON.stringify(message));
    if (dropped && this.queue.unreported === dropped) {
      this.warn('mqtt: the event queue is full; the oldest events are being dropped until the broker is back');
    }
    this.sent = Math.max(0, this.sent - dropped);
    if (isStateChange(message)) this.stateDirty = true;
    this.scheduleState();
    this.pump();
  }

  /** Publish queued events in order while connected, up to the in-flight window. */
  private pump(): void {
    if (!this.client.connected || this.closing && this.queue.length === 0) return;
    if (this.linkState === 'denied' && this.deniedRetry) return;
    if (this.queue.unreported > 0 && this.inFlight === 0 && this.sent === 0) {
      const count = this.queue.unreported;
      const note = { type: 'mqtt_events_dropped', count, message: `${count} event(s) were dropped: the station's MQTT queue was full while the broker was unreachable.`, timestamp: Date.now() };
      this.queue.reported(count);
      this.client.publish(this.topic('events'), JSON.stringify(note), { qos: 1 });
    }
    while (this.inFlight < this.window) {
      const entry = this.queue.at(this.sent);
      if (!entry) break;
      this.sent++;
      this.inFlight++;
      const seq = entry.seq;
      this.client.publish(this.topic('events'), entry.payload, { qos: 1 }, (err) => this.onAck(seq, err));
    }
  }

  private onAck(seq: number, err: (Error & { code?: number | string }) | undefined): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    if (err) {
      // Not delivered: keep it and everything after it queued, and try again later.
      this.onPublishError(err, 'events');
      this.sent = 0;
      this.inFlight = 0;
      this.acked.clear();
      if (!this.deniedRetry && this.linkState === 'denied') {
        this.deniedRetry = setTimeout(() => {
          this.deniedRetry = undefined;
          this.pump();
        }, 10_000);
        this.deniedRetry.unref();
      }
      return;
    }
    this.counters.eventsPublished++;
    this.acked.add(seq);
    // Acknowledgements come in order on one connection; advance over the contiguous acknowledged prefix.
    let advanced = 0;
    for (let head = this.queue.at(0); head && this.acked.has(head.seq); head = this.queue.at(0)) {
      this.acked.delete(head.seq);
      this.queue.ackThrough(head.seq);
      advanced++;
    }
    this.sent = Math.max(0, this.sent - advanced);
    if (this.linkState === 'denied' && this.problemText?.includes('events')) {
      this.linkState = 'connected';
      this.problemText = undefined;
    }
    this.pump();
  }

  private scheduleState(): void {
    if (this.stateTimer || !this.stateDirty || this.closing) return;
    const interval = this.options.stateIntervalMs ?? 1000;
    const wait = Math.max(0, this.lastStateAt + interval - Date.now());
    this.stateTimer = setTimeout(() => {
      this.stateTimer = undefined;
      this.flushState();
    }, wait);
    this.stateTimer.unref();
  }

  private flushState(): void {
    if (!this.client.connected || !this.stateDirty) return;
    this.stateDirty = false;
    this.lastStateAt = Date.now();
    const { station } = this.deps;
    const payload = JSON.stringify({ devices: station.devices(), jobs: station.jobs().filter((j) => LIVE.has(j.state)), timestamp: this.lastStateAt });
    this.counters.statesPublished++;
    this.client.publish(this.topic('state'), payload, { qos: 1, retain: true }, (err) => {
      if (err) this.onPublishError(err, 'state');
    });
  }

  private publishResult(message: ServerMessage): void {
    if (!this.client.connected) return;
    this.client.publish(this.topic('results'), JSON.stringify(message), { qos: 1 }, (err) => {
      if (err) this.onPublishError(err, 'results');
    });
  }

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    if (topic !== this.topic('commands') || !this.options.commands) return;
    this.gate.accept(payload, packet.retain);
  }
}

/** Events after which the published state differs (progress changes the jobs' numbers too). */
function isStateChange(message: ServerMessage): boolean {
  return message.type !== 'flash_log';
}
