// Commands that arrive over MQTT: rate-limited like a WebSocket client, each checked against the station token, then
// run by the same runCommand as the WebSocket — one implementation of every command.
import type { StationApi } from '../core/station-api.js';
import type { ErrorCode, ServerMessage } from '../protocol/messages.js';
import { runCommand } from '../server/commands.js';
import { createRateLimiter, type RateLimiter } from '../server/rate-limit.js';
import { MAX_FRAME_BYTES } from '../server/server.js';
import { parseClientFrame } from '../server/validate.js';

export interface CommandGateCounters {
  commandsReceived: number;
  commandsRun: number;
  commandsUnauthorized: number;
  commandsRateLimited: number;
  commandsInvalid: number;
}

export interface CommandGateOptions {
  station: StationApi;
  checkToken(token: string): boolean;
  /** Publishes a reply on `results`. */
  reply(message: ServerMessage): void;
  /** The WebSocket's read-only client rate (server defaults: 200/s, burst 400). */
  ratePerSecond?: number;
  rateBurst?: number;
}

function refusal(code: ErrorCode, message: string, requestId: string | undefined): ServerMessage {
  return requestId === undefined
    ? { type: 'result', ok: false, error: { code, message } }
    : { type: 'result', requestId, ok: false, error: { code, message } };
}

export class CommandGate {
  readonly counters: CommandGateCounters = { commandsReceived: 0, commandsRun: 0, commandsUnauthorized: 0, commandsRateLimited: 0, commandsInvalid: 0 };
  private readonly limiter: RateLimiter;
  private readonly rate: number;
  private noticeAt = -Infinity;

  constructor(private readonly options: CommandGateOptions) {
    this.rate = options.ratePerSecond ?? 200;
    this.limiter = createRateLimiter(this.rate, options.rateBurst ?? 400);
  }

  /** Handle one message from the commands topic. */
  accept(payload: Buffer, retained: boolean, now = performance.now()): void {
    this.counters.commandsReceived++;
    if (!this.limiter.take(now)) {
      this.counters.commandsRateLimited++;
      if (now - this.noticeAt > 1000) {
        this.noticeAt = now;
        this.options.reply(refusal('rate_limited', `Too many commands: at most ${this.rate} per second; commands over the limit are ignored.`, undefined));
      }
      return;
    }
    if (retained) {
      // A retained command would be replayed to the station on every reconnect.
      this.counters.commandsInvalid++;
      this.options.reply(refusal('bad_request', 'Retained commands are not obeyed: publish commands with retain off.', undefined));
      return;
    }
    if (payload.length > MAX_FRAME_BYTES) {
      this.counters.commandsInvalid++;
      this.options.reply(refusal('too_large', 'Command over 1 MiB refused.', undefined));
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(payload.toString('utf8'));
    } catch {
      this.counters.commandsInvalid++;
      this.options.reply(refusal('invalid_json', 'Command is not valid JSON; publish one JSON object per message.', undefined));
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.counters.commandsInvalid++;
      this.options.reply(refusal('bad_request', 'A command is a JSON object with "type" and "token".', undefined));
      return;
    }
    const { token, ...rest } = value as Record<string, unknown>;
    const requestId = typeof rest.requestId === 'string' ? rest.requestId : undefined;
    if (typeof token !== 'string' || !this.options.checkToken(token)) {
      this.counters.commandsUnauthorized++;
      this.options.reply(refusal('unauthorized', 'Wrong or missing "token": every MQTT command must carry this station\'s token (DATA_DIR/token).', requestId));
      return;
    }
    const parsed = parseClientFrame(JSON.stringify(rest));
    if (!parsed.ok) {
      this.counters.commandsInvalid++;
      this.options.reply(refusal(parsed.code, parsed.message, parsed.requestId));
      return;
    }
    this.counters.commandsRun++;
    runCommand(
      { station: this.options.station, authenticated: true, checkToken: (t) => this.options.checkToken(t), setAuthenticated: () => undefined },
      parsed.command,
    )
      .then((reply) => {
        if (reply) this.options.reply(reply);
      })
      .catch((e: unknown) => {
        // runCommand answers every refusal itself; what lands here is a fault of the station or of the publish. The
        // sender still gets an answer where one can go out, and the process does not die of an unhandled rejection.
        try {
          this.options.reply(refusal('internal', `The station could not carry out ${parsed.command.type}: ${e instanceof Error ? e.message : String(e)}`, parsed.command.requestId));
        } catch {
          // The link is closing; nothing more to tell it.
        }
      });
  }
}
