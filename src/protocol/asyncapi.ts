/**
 * Builds the AsyncAPI 3.0 description of `flash-station/1` from the JSON Schemas in schemas.ts, so the published
 * document (docs/asyncapi.yaml) cannot drift from what the server validates. A test regenerates and compares it.
 */
import { PROTOCOL } from './messages.js';
import { clientCommandSchemas, deviceSchema, errorCodeSchema, jobSchema, planInputSchema, serverMessageSchemas } from './schemas.js';

const SERVER_SUMMARIES: Record<string, string> = {
  hello: 'First frame of every connection: protocol name, station version, whether the connection is authenticated.',
  snapshot: 'Second frame of every connection, and the answer to get_snapshot: every device, every active or recent job (queued ones with their queuePosition) and the recent batches.',
  flash_started: 'A job began writing (one of the guide\'s original seven).',
  flash_progress: 'At most 10 per second per job; progress never decreases; the last one before flash_completed has progress 100.',
  flash_completed: 'A job ended successfully.',
  flash_failed: 'A job ended with an error; a cancelled job ends with error "Cancelled" and reason "cancelled".',
  flash_paused: 'A job was paused between transfers.',
  flash_resumed: 'A paused job runs again.',
  pong: 'Answer to ping.',
  device_attached: 'A device appeared.',
  device_detached: 'A device went away.',
  device_updated: 'A device\'s state, partitions or info changed (e.g. busy → idle).',
  flash_queued: 'A job waits for its device or a free slot.',
  flash_log: 'A message from the device or the driver (e.g. INFO lines from the bootloader).',
  batch_summary: 'Counts of a many-device start_flash, sent once its jobs are placed and whenever one of them starts, pauses, resumes or ends; paused is the part of running on hold.',
  result: 'Answer to every command that carries a requestId (and to commands without one, except published events).',
  error: 'A frame the station could not accept (invalid JSON, unknown type, missing or ill-typed field, rate limit, wrong token); the connection stays open.',
};

const CLIENT_SUMMARIES: Record<string, string> = {
  ping: 'Keep-alive; answered with pong.',
  auth: 'Present the station token (alternative to ?token= and Authorization: Bearer).',
  get_snapshot: 'Ask for a fresh snapshot.',
  get_history: 'Ended jobs from the history database, newest first.',
  get_job_logs: 'The last log lines (default 500) of up to 200 jobs from the history database; the result carries logs keyed by jobId.',
  start_flash: 'Start a job: deviceId (or deviceIds/selector) with image and one target (partition, address, or neither for the whole device), or with plan. Needs the token.',
  pause_flash: 'Pause a running job. Needs the token.',
  resume_flash: 'Resume a paused job. Needs the token.',
  cancel_flash: 'Cancel a job; it ends with flash_failed reason cancelled. Needs the token.',
  pause_all: 'Pause every running job; the result lists the jobs affected. Needs the token.',
  resume_all: 'Resume every paused job. Needs the token.',
  cancel_all: 'Cancel every queued, running or paused job. Needs the token.',
  get_settings: 'The station settings (slots, retries, bandwidth limits, auto-flash rules).',
  update_settings: 'Change some settings; the station validates and persists them and answers with all settings. Needs the token.',
  set_limits: 'Bandwidth limit in bytes/s for one job (jobId), or without jobId the station-wide limit setting (stationBytesPerSecond, kept and shown by get_settings); null removes it. Needs the token.',
  flash_started: 'An outside agent reports a job it runs itself; the station checks it, rebroadcasts it and records it. Needs the token.',
  flash_progress: 'An outside agent\'s job progress (rebroadcast to every client). Needs the token.',
  flash_completed: 'An outside agent\'s job completed. Needs the token.',
  flash_failed: 'An outside agent\'s job failed. Needs the token.',
  flash_paused: 'An outside agent\'s job paused. Needs the token.',
  flash_resumed: 'An outside agent\'s job resumed. Needs the token.',
};

type Doc = Record<string, unknown>;

export function buildAsyncApiDocument(version: string): Doc {
  const messages: Record<string, Doc> = {};
  const channelMessages: Record<string, Doc> = {};
  const sendRefs: Doc[] = [];
  const receiveRefs: Doc[] = [];
  for (const [type, schema] of Object.entries(serverMessageSchemas)) {
    const name = `server_${type}`;
    messages[name] = { name: type, title: type, summary: SERVER_SUMMARIES[type] ?? type, contentType: 'application/json', payload: schema };
    channelMessages[name] = { $ref: `#/components/messages/${name}` };
    sendRefs.push({ $ref: `#/channels/flashProgress/messages/${name}` });
  }
  for (const [type, schema] of Object.entries(clientCommandSchemas)) {
    const name = `client_${type}`;
    messages[name] = { name: type, title: type, summary: CLIENT_SUMMARIES[type] ?? type, contentType: 'application/json', payload: schema };
    channelMessages[name] = { $ref: `#/components/messages/${name}` };
    receiveRefs.push({ $ref: `#/channels/flashProgress/messages/${name}` });
  }
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Flash Station WebSocket protocol',
      version,
      description:
        `The \`${PROTOCOL}\` protocol of Flash Station: UTF-8 JSON text frames, one message per frame, \`type\` in snake_case, ` +
        'fields in camelCase, every `timestamp` in Unix milliseconds. Generated from src/protocol/schemas.ts; see docs/protocol.md.',
      license: { name: 'MIT' },
    },
    defaultContentType: 'application/json',
    servers: {
      local: {
        host: '127.0.0.1:3001',
        protocol: 'ws',
        pathname: '/flash-progress',
        description: 'The station on this machine (flash-station serve, or the desktop app). Frames over 1 MiB close the connection with 1009.',
        security: [{ $ref: '#/components/securitySchemes/queryToken' }, { $ref: '#/components/securitySchemes/bearerToken' }],
      },
    },
    channels: {
      flashProgress: {
        address: '/flash-progress',
        title: 'Live flash progress and station control',
        description: 'One WebSocket per client. The station sends hello, then snapshot, then every event; clients send commands with an optional requestId that the result echoes.',
        servers: [{ $ref: '#/servers/local' }],
        messages: channelMessages,
      },
    },
    operations: {
      sendEvents: {
        action: 'send',
        title: 'Station → client',
        summary: 'The station sends events and answers to every connected client.',
        channel: { $ref: '#/channels/flashProgress' },
        messages: sendRefs,
      },
      receiveCommands: {
        action: 'receive',
        title: 'Client → station',
        summary: 'The station receives commands; without the token only ping, auth, get_snapshot and get_history are allowed.',
        channel: { $ref: '#/channels/flashProgress' },
        messages: receiveRefs,
      },
    },
    components: {
      schemas: { Device: deviceSchema, Job: jobSchema, PlanInput: planInputSchema, ErrorCode: errorCodeSchema },
      messages,
      securitySchemes: {
        queryToken: { type: 'httpApiKey', name: 'token', in: 'query', description: 'The station token (DATA_DIR/token or $FLASH_STATION_TOKEN) as ?token=.' },
        bearerToken: { type: 'http', scheme: 'bearer', description: 'The station token as Authorization: Bearer; an auth frame works too.' },
      },
    },
  };
}
