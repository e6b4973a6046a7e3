/**
 * JSON Schemas (draft 2020-12 subset that ajv's default draft-07 mode accepts) for every frame of `flash-station/1`,
 * mirroring messages.ts. Plain data: the server compiles them with ajv, the docs and AsyncAPI document quote them.
 */

import { ERROR_CODES } from './messages.js';

type Schema = Record<string, unknown>;

const str: Schema = { type: 'string' };
const id: Schema = { type: 'string', minLength: 1, maxLength: 256 };
const num: Schema = { type: 'number' };
const nonNeg: Schema = { type: 'number', minimum: 0 };
const ts: Schema = { type: 'number', minimum: 0, description: 'Unix milliseconds' };
const requestId: Schema = { type: 'string', maxLength: 256 };
const count: Schema = { type: 'integer', minimum: 0 };
/** Every code the station puts on the wire: the one list in messages.ts (docs/protocol.md, "Error codes"). */
export const errorCodeSchema: Schema = { enum: [...ERROR_CODES], description: 'A stable error code; docs/protocol.md, "Error codes"' };

function object(properties: Record<string, Schema>, required: string[], extra = true): Schema {
  return { type: 'object', properties, required, additionalProperties: extra };
}

function message(type: string, properties: Record<string, Schema>, required: string[]): Schema {
  return object({ type: { const: type }, ...properties }, ['type', ...required]);
}

const DEVICE_TRANSPORTS = ['usb', 'tcp', 'udp', 'serial', 'block', 'sim'] as const;
/** Where `start_flash` writes an image (contract §7); `Device.targets` lists the ones its family takes. */
export const TARGET_KINDS = ['partition', 'address', 'whole'] as const;

/** `address`: a non-negative integer or a `"0x…"` hex string, both within what a JS number holds exactly. */
export const addressSchema: Schema = {
  oneOf: [
    { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    { type: 'string', pattern: '^0[xX][0-9a-fA-F]{1,13}$' },
  ],
};

/** What a refused start_flash target says (the schema's oneOf alone would only say "must match exactly one schema"). */
export const START_FLASH_TARGET_RULE =
  'give image with exactly one of partition, address or neither (the whole device), or give plan alone';

export const deviceSchema: Schema = object(
  {
    id,
    protocol: { enum: ['fastboot', 'dfu', 'esp', 'stm32', 'block'] },
    transport: { enum: [...DEVICE_TRANSPORTS] },
    name: str,
    serial: str,
    port: str,
    state: { enum: ['idle', 'busy', 'error'] },
    partitions: { type: 'array', items: object({ name: str, size: nonNeg }, ['name', 'size']) },
    info: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } },
    targets: { type: 'array', uniqueItems: true, items: { enum: [...TARGET_KINDS] } },
  },
  ['id', 'protocol', 'transport', 'name', 'serial', 'state', 'info'],
);

export const jobSchema: Schema = object(
  {
    jobId: id,
    deviceId: id,
    state: { enum: ['queued', 'running', 'paused', 'completed', 'failed', 'cancelled'] },
    stage: str,
    progress: { type: 'number', minimum: 0, maximum: 100 },
    bytesTransferred: nonNeg,
    totalBytes: nonNeg,
    transferSpeed: nonNeg,
    estimatedTimeRemaining: nonNeg,
    createdAt: ts,
    startedAt: ts,
    endedAt: ts,
    error: str,
    errorCode: errorCodeSchema,
    imageBytes: nonNeg,
    target: str,
    batchId: str,
    sha256: str,
    queuePosition: { type: 'integer', minimum: 1 },
    averageSpeed: nonNeg,
  },
  [
    'jobId', 'deviceId', 'state', 'stage', 'progress', 'bytesTransferred', 'totalBytes', 'transferSpeed',
    'estimatedTimeRemaining', 'createdAt',
  ],
);

const jobError: Schema = object({ code: errorCodeSchema, message: str }, ['code', 'message']);

// ---- the original seven (plus requestId, which a publishing client may add) ----

/** The station sends only codes of its list; an outside agent's own code is accepted and dropped, not refused. */
function flashFailed(code: Schema): Schema {
  return message(
    'flash_failed',
    { jobId: id, deviceId: id, error: str, timestamp: ts, reason: { enum: ['cancelled', 'error', 'interrupted'] }, code, detail: str, requestId },
    ['jobId', 'deviceId', 'error', 'timestamp'],
  );
}

export const flashEventSchemas: Record<string, Schema> = {
  flash_started: message(
    'flash_started',
    { jobId: id, deviceId: id, stage: str, totalBytes: nonNeg, timestamp: ts, imageBytes: nonNeg, requestId },
    ['jobId', 'deviceId', 'totalBytes', 'timestamp'],
  ),
  flash_progress: message(
    'flash_progress',
    {
      jobId: id, deviceId: id, progress: { type: 'number', minimum: 0, maximum: 100 }, stage: str,
      bytesTransferred: nonNeg, totalBytes: nonNeg, transferSpeed: nonNeg, estimatedTimeRemaining: nonNeg,
      timestamp: ts, requestId,
    },
    ['jobId', 'deviceId', 'progress', 'stage', 'bytesTransferred', 'totalBytes', 'transferSpeed',
      'estimatedTimeRemaining', 'timestamp'],
  ),
  flash_completed: message('flash_completed', { jobId: id, deviceId: id, timestamp: ts, requestId }, ['jobId', 'deviceId', 'timestamp']),
  flash_failed: flashFailed(str),
  flash_paused: message('flash_paused', { jobId: id, deviceId: id, timestamp: ts, requestId }, ['jobId', 'deviceId', 'timestamp']),
  flash_resumed: message('flash_resumed', { jobId: id, deviceId: id, timestamp: ts, requestId }, ['jobId', 'deviceId', 'timestamp']),
};

// ---- server → client ----

const batchSummary: Schema = message(
  'batch_summary',
  {
    batchId: id, total: count, succeeded: count, failed: count, cancelled: count, running: count, queued: count, paused: count,
    timestamp: ts,
  },
  ['batchId', 'total', 'succeeded', 'failed', 'cancelled', 'running', 'queued', 'timestamp'],
);

export const serverMessageSchemas: Record<string, Schema> = {
  ...flashEventSchemas,
  flash_failed: flashFailed(errorCodeSchema),
  pong: message('pong', { timestamp: ts }, ['timestamp']),
  hello: message(
    'hello',
    { protocol: { const: 'flash-station/1' }, version: str, authenticated: { type: 'boolean' }, timestamp: ts },
    ['protocol', 'version', 'authenticated', 'timestamp'],
  ),
  snapshot: message(
    'snapshot',
    {
      devices: { type: 'array', items: deviceSchema }, jobs: { type: 'array', items: jobSchema }, timestamp: ts, requestId,
      batches: { type: 'array', items: batchSummary },
    },
    ['devices', 'jobs', 'timestamp'],
  ),
  device_attached: message('device_attached', { device: deviceSchema, timestamp: ts }, ['device', 'timestamp']),
  device_detached: message('device_detached', { deviceId: id, timestamp: ts }, ['deviceId', 'timestamp']),
  device_updated: message('device_updated', { device: deviceSchema, timestamp: ts }, ['device', 'timestamp']),
  flash_queued: message(
    'flash_queued',
    { jobId: id, deviceId: id, position: { type: 'integer', minimum: 0 }, timestamp: ts },
    ['jobId', 'deviceId', 'position', 'timestamp'],
  ),
  flash_log: message(
    'flash_log',
    { jobId: id, deviceId: id, level: { enum: ['info', 'warn', 'error'] }, message: str, timestamp: ts },
    ['jobId', 'deviceId', 'level', 'message', 'timestamp'],
  ),
  result: {
    oneOf: [
      message('result', { requestId, ok: { const: true } }, ['ok']),
      message('result', { requestId, ok: { const: false }, error: jobError }, ['ok', 'error']),
    ],
  },
  error: message('error', { code: errorCodeSchema, message: str, requestId }, ['code', 'message']),
  batch_summary: batchSummary,
};

// ---- client → server ----

const planStep: Schema = {
  oneOf: [
    object({ op: { const: 'flash' }, partition: id, image: id, slot: { enum: ['a', 'b', 'all', 'current'] } }, ['op', 'partition', 'image'], false),
    object({ op: { const: 'erase' }, partition: id }, ['op', 'partition'], false),
    object({ op: { const: 'set_active' }, slot: { enum: ['a', 'b'] } }, ['op', 'slot'], false),
    object({ op: { const: 'reboot' }, target: { enum: ['system', 'bootloader', 'fastboot', 'recovery'] } }, ['op'], false),
    object({ op: { const: 'wait_for_device' }, timeoutMs: { type: 'integer', minimum: 0 } }, ['op'], false),
    object({ op: { const: 'oem' }, command: { type: 'string', minLength: 1, maxLength: 1024 } }, ['op', 'command'], false),
    object({ op: { const: 'getvar' }, name: id, expect: str }, ['op', 'name'], false),
  ],
};

export const planInputSchema: Schema = object(
  { name: str, steps: { type: 'array', minItems: 1, maxItems: 256, items: planStep } },
  ['steps'],
  false,
);

/** What `get_history` and `/api/history` filter by: a job state, or `interrupted` (running when the station died). */
export const HISTORY_STATES = ['queued', 'running', 'paused', 'completed', 'failed', 'cancelled', 'interrupted'] as const;

/** Most rows one `get_history` (or `GET /api/history`) returns; the CSV export may ask for more. */
export const HISTORY_LIMIT_MAX = 10_000;
export const HISTORY_CSV_LIMIT_MAX = 100_000;

/** The history filters, the same on the socket and over REST: limit ≥ 1, `before` a Unix-ms time ≥ 0. */
function historyQuery(maxLimit: number): Record<string, Schema> {
  return {
    limit: { type: 'integer', minimum: 1, maximum: maxLimit },
    deviceId: id,
    before: { type: 'integer', minimum: 0, description: 'Unix milliseconds: jobs created before this time' },
    state: { enum: [...HISTORY_STATES] },
    batchId: id,
  };
}

/** `GET /api/history.csv`'s query: get_history's filters, with room for a whole export. */
export const historyCsvQuerySchema: Schema = object(historyQuery(HISTORY_CSV_LIMIT_MAX), [], false);

export const clientCommandSchemas: Record<string, Schema> = {
  ...flashEventSchemas,
  ping: message('ping', { timestamp: num, requestId }, []),
  auth: message('auth', { token: { type: 'string', maxLength: 1024 }, requestId }, ['token']),
  get_snapshot: message('get_snapshot', { requestId }, []),
  get_history: message('get_history', { ...historyQuery(HISTORY_LIMIT_MAX), requestId }, []),
  get_job_logs: message(
    'get_job_logs',
    { jobIds: { type: 'array', minItems: 1, maxItems: 200, items: id }, limit: { type: 'integer', minimum: 1, maximum: 2000 }, requestId },
    ['jobIds'],
  ),
  start_flash: {
    ...message(
      'start_flash',
      {
        deviceId: id,
        deviceIds: { type: 'array', minItems: 1, maxItems: 256, items: id },
        partition: { type: 'string', minLength: 1, maxLength: 128 },
        address: addressSchema,
        image: { type: 'string', minLength: 1, maxLength: 4096 },
        plan: { oneOf: [{ type: 'string', minLength: 1, maxLength: 4096 }, planInputSchema] },
        verify: { type: 'boolean' },
        selector: object(
          {
            protocol: { enum: ['fastboot', 'dfu', 'esp', 'stm32', 'block'] },
            transport: { enum: [...DEVICE_TRANSPORTS] },
            state: { enum: ['idle', 'busy', 'error'] },
            serial: { type: 'string', maxLength: 256 },
            product: { type: 'string', maxLength: 256 },
          },
          [],
          false,
        ),
        waitForDeviceMs: { type: 'integer', minimum: 0, maximum: 86_400_000 },
        requestId,
      },
      [],
    ),
    anyOf: [{ required: ['deviceId'] }, { required: ['deviceIds'] }, { required: ['selector'] }],
    // Contract §7: image with partition, with address, or with neither (whole device) — or plan alone.
    oneOf: [
      { required: ['image'], not: { anyOf: [{ required: ['plan'] }, { required: ['partition', 'address'] }] } },
      { required: ['plan'], not: { anyOf: [{ required: ['partition'] }, { required: ['address'] }, { required: ['image'] }] } },
    ],
  },
  pause_flash: message('pause_flash', { jobId: id, requestId }, ['jobId']),
  resume_flash: message('resume_flash', { jobId: id, requestId }, ['jobId']),
  cancel_flash: message('cancel_flash', { jobId: id, requestId }, ['jobId']),
  pause_all: message('pause_all', { requestId }, []),
  resume_all: message('resume_all', { requestId }, []),
  cancel_all: message('cancel_all', { requestId }, []),
  get_settings: message('get_settings', { requestId }, []),
  update_settings: message('update_settings', { settings: { type: 'object' }, requestId }, ['settings']),
  set_limits: message(
    'set_limits',
    { jobId: id, bytesPerSecond: { type: ['number', 'null'], exclusiveMinimum: 0 }, requestId },
    ['bytesPerSecond'],
  ),
};

export const SERVER_MESSAGE_TYPES = Object.keys(serverMessageSchemas);
export const CLIENT_COMMAND_TYPES = Object.keys(clientCommandSchemas);
