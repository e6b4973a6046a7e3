// Compiles the protocol's JSON Schemas with ajv once and turns an inbound text frame into a checked command or a reason.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { ClientCommand, ServerMessage } from '../protocol/messages.js';
import { clientCommandSchemas, historyCsvQuerySchema, serverMessageSchemas, START_FLASH_TARGET_RULE } from '../protocol/schemas.js';

function compileAll(schemas: Record<string, Record<string, unknown>>): Map<string, ValidateFunction> {
  const ajv = new Ajv({ allErrors: false, strict: false });
  const out = new Map<string, ValidateFunction>();
  for (const [type, schema] of Object.entries(schemas)) out.set(type, ajv.compile(schema));
  return out;
}

let inbound: Map<string, ValidateFunction> | undefined;
let outbound: Map<string, ValidateFunction> | undefined;

export type ParsedFrame =
  | { ok: true; command: ClientCommand }
  | { ok: false; code: 'invalid_json' | 'unknown_type' | 'bad_request'; message: string; requestId?: string };

function describe(errors: ErrorObject[] | null | undefined, type?: string): string {
  const first = errors?.[0];
  if (!first) return 'does not match the schema';
  // The frame-level oneOf of start_flash is its target rule (contract §7); ajv alone says "must match exactly one schema".
  if (type === 'start_flash' && first.instancePath === '' && first.schemaPath.startsWith('#/oneOf')) return START_FLASH_TARGET_RULE;
  const where = first.instancePath ? `field ${first.instancePath.slice(1).replace(/\//g, '.')}` : 'the frame';
  if (first.keyword === 'required') return `missing field ${String((first.params as { missingProperty?: string }).missingProperty)}`;
  return `${where} ${first.message ?? 'is invalid'}`;
}

/**
 * Compile the inbound schemas now (about 0.3 s of ajv work) rather than on the first frame, where it would delay the
 * first command — typically a flash — of every freshly started station.
 */
export function warmValidators(): void {
  inbound ??= compileAll(clientCommandSchemas);
}

/** Deepest nesting a frame may have: the deepest command (a plan) is 4 levels; room is left for additive fields. */
export const MAX_DEPTH = 16;

/** True when `value` nests objects/arrays more than `max` levels deep; stops at the first such branch. */
export function deeperThan(value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (max <= 0) return true;
  if (Array.isArray(value)) {
    for (const v of value) if (deeperThan(v, max - 1)) return true;
    return false;
  }
  for (const k in value) if (deeperThan((value as Record<string, unknown>)[k], max - 1)) return true;
  return false;
}

/** Parse and validate one inbound text frame. Never throws. */
export function parseClientFrame(text: string): ParsedFrame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, code: 'invalid_json', message: 'Frame is not valid JSON; send one JSON object per text frame.' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, code: 'bad_request', message: 'Frame must be a JSON object with a "type" field.' };
  }
  if (deeperThan(value, MAX_DEPTH)) {
    return { ok: false, code: 'bad_request', message: `Frame nests objects or arrays deeper than ${MAX_DEPTH} levels; flash-station/1 frames are flat.` };
  }
  const record = value as Record<string, unknown>;
  const requestId = typeof record.requestId === 'string' ? record.requestId : undefined;
  const type = record.type;
  if (typeof type !== 'string') {
    return { ok: false, code: 'bad_request', message: 'Missing field "type" (a string such as "ping").', requestId };
  }
  inbound ??= compileAll(clientCommandSchemas);
  const check = inbound.get(type);
  if (!check) return { ok: false, code: 'unknown_type', message: `Unknown message type "${type.slice(0, 64)}".`, requestId };
  if (!check(value)) return { ok: false, code: 'bad_request', message: `Invalid ${type}: ${describe(check.errors, type)}.`, requestId };
  return { ok: true, command: value as ClientCommand };
}

/** Check an outbound message against its schema; returns null when it conforms, else the reason. */
export function checkServerMessage(message: unknown): string | null {
  outbound ??= compileAll(serverMessageSchemas);
  const type = (message as { type?: unknown } | null)?.type;
  const check = typeof type === 'string' ? outbound.get(type) : undefined;
  if (!check) return `unknown server message type ${String(type)}`;
  return check(message) ? null : `${String(type)}: ${describe(check.errors)}`;
}

export type { ServerMessage };

/** Validate an already-parsed command object (HTTP bodies go through the same schemas as frames). */
export function validateCommand(value: Record<string, unknown>): ParsedFrame {
  return parseClientFrame(JSON.stringify(value));
}

let csvQuery: ValidateFunction | undefined;

/**
 * Check a REST history query (values already typed) by the socket's own rules: `get_history`'s schema for
 * `/api/history`, the same filters with a larger limit for the CSV export.
 */
export function validateHistoryQuery(query: Record<string, unknown>, csv: boolean): { ok: true } | { ok: false; message: string } {
  if (!csv) {
    const r = validateCommand({ ...query, type: 'get_history' });
    return r.ok ? { ok: true } : { ok: false, message: r.message };
  }
  csvQuery ??= new Ajv({ allErrors: false, strict: false }).compile(historyCsvQuerySchema);
  return csvQuery(query) ? { ok: true } : { ok: false, message: `Invalid history query: ${describe(csvQuery.errors)}.` };
}
