// Maps stable error codes to HTTP statuses and writes the `{error: {code, message}}` body of contract §3.
import type { ServerResponse } from 'node:http';
import type { ErrorCode } from '../contracts/errors.js';

/** Codes whose status is not 500. */
const STATUS: Partial<Record<ErrorCode, number>> = {
  bad_request: 400,
  invalid_json: 400,
  unknown_type: 400,
  image_not_found: 400,
  image_unreadable: 400,
  image_invalid: 400,
  image_too_large: 400,
  image_mismatch: 400,
  target_unsupported: 400,
  partition_not_found: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  device_not_found: 404,
  job_not_found: 404,
  device_busy: 409,
  device_protected: 409,
  port_busy: 409,
  invalid_state: 409,
  too_large: 413,
  rate_limited: 429,
  shutting_down: 503,
  internal: 500,
};

export function statusFor(code: ErrorCode): number {
  return STATUS[code] ?? 500;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, code: ErrorCode, message: string, status = statusFor(code), headers: Record<string, string> = {}): void {
  sendJson(res, status, { error: { code, message } }, headers);
}
