// Carries out one validated client command against the station and builds the frame that answers it.
import { toFlashError, type ErrorCode } from '../core/errors.js';
import type { StationApi } from '../core/station-api.js';
import type { ClientCommand, FlashEventMessage, ServerMessage } from '../protocol/messages.js';
import { snapshotOf } from './snapshot.js';

/** Commands a client without the token may still send (contract §4). */
const OPEN_COMMANDS = new Set(['ping', 'auth', 'get_snapshot', 'get_history', 'get_job_logs', 'get_settings']);
const FLASH_EVENTS = new Set(['flash_started', 'flash_progress', 'flash_completed', 'flash_failed', 'flash_paused', 'flash_resumed']);

export interface CommandContext {
  station: StationApi;
  authenticated: boolean;
  /** Checks an `auth` frame's token. */
  checkToken(token: string): boolean;
  setAuthenticated(value: boolean): void;
  /** Names the connection, so that outside jobs can be capped per publisher. */
  publisher?: string;
}

function fail(requestId: string | undefined, code: ErrorCode, message: string, asError: boolean): ServerMessage {
  if (asError) return requestId === undefined ? { type: 'error', code, message } : { type: 'error', code, message, requestId };
  return requestId === undefined
    ? { type: 'result', ok: false, error: { code, message } }
    : { type: 'result', requestId, ok: false, error: { code, message } };
}

function ok(requestId: string | undefined, fields: Record<string, unknown> = {}): ServerMessage {
  return requestId === undefined ? { type: 'result', ok: true, ...fields } : { type: 'result', requestId, ok: true, ...fields };
}

export function isFlashEvent(command: ClientCommand): command is FlashEventMessage & { requestId?: string } {
  return FLASH_EVENTS.has(command.type);
}

/** The answer to a command, or null when none is due (a published event without requestId). */
export async function runCommand(ctx: CommandContext, command: ClientCommand): Promise<ServerMessage | null> {
  const { station } = ctx;
  const requestId = command.requestId;
  const publishing = isFlashEvent(command);
  if (!ctx.authenticated && !OPEN_COMMANDS.has(command.type)) {
    return fail(requestId, 'unauthorized', `"${command.type}" needs the station token: connect with ?token=, Authorization: Bearer, or send {"type":"auth","token":…} first.`, publishing && requestId === undefined);
  }
  try {
    switch (command.type) {
      case 'ping':
        return { type: 'pong', timestamp: Date.now() };
      case 'auth': {
        const good = ctx.checkToken(command.token);
        if (good) ctx.setAuthenticated(true);
        return good ? ok(requestId, { authenticated: true }) : fail(requestId, 'unauthorized', 'Wrong token. The station token is in DATA_DIR/token or $FLASH_STATION_TOKEN.', false);
      }
      case 'get_snapshot': {
        const snapshot = snapshotOf(station);
        return requestId === undefined ? snapshot : { ...snapshot, requestId };
      }
      case 'get_job_logs':
        return ok(requestId, { logs: station.jobLogs?.(command.jobIds, command.limit ?? 500) ?? {} });
      case 'get_history': {
        const jobs = station.history({
          limit: command.limit ?? 100, deviceId: command.deviceId, before: command.before, state: command.state, batchId: command.batchId,
        });
        return ok(requestId, { jobs });
      }
      case 'start_flash': {
        const { type: _type, requestId: _id, ...request } = command;
        const started = await station.startFlash(request);
        return ok(requestId, { ...started });
      }
      case 'pause_flash':
        return ok(requestId, { job: station.pause(command.jobId) });
      case 'resume_flash':
        return ok(requestId, { job: station.resume(command.jobId) });
      case 'cancel_flash':
        return ok(requestId, { job: station.cancel(command.jobId) });
      case 'pause_all':
        return ok(requestId, { jobs: station.pauseAll() });
      case 'resume_all':
        return ok(requestId, { jobs: station.resumeAll() });
      case 'cancel_all':
        return ok(requestId, { jobs: station.cancelAll() });
      case 'get_settings':
        return ok(requestId, { settings: station.getSettings() });
      case 'update_settings':
        return ok(requestId, { settings: station.updateSettings(command.settings) });
      case 'set_limits':
        station.setLimits(command.jobId, command.bytesPerSecond);
        return ok(requestId, { jobId: command.jobId ?? null, bytesPerSecond: command.bytesPerSecond });
      default: {
        if (!publishing) return fail(requestId, 'unknown_type', `Unknown message type "${(command as { type: string }).type}".`, true);
        const { requestId: _id, ...event } = command;
        station.publishExternal(event, ctx.publisher);
        return requestId === undefined ? null : ok(requestId, { jobId: event.jobId });
      }
    }
  } catch (e) {
    const error = toFlashError(e);
    return fail(requestId, error.code, error.message, publishing && requestId === undefined);
  }
}
