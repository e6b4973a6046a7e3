/**
 * Errors as values: one list of stable codes, generic across device families, and the FlashError that carries one.
 * Family-specific detail (a DFU bStatus, an ESP ROM error byte, an STM32 NACK) goes in `detail`, never in a new code.
 */
import { ERROR_CODES, type ErrorCode } from '../protocol/messages.js';

export { ERROR_CODES, type ErrorCode };

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

export interface FlashErrorOptions {
  /** True when the same step may succeed if retried (device dropped and came back, timeout); never for user faults. */
  transient?: boolean;
  cause?: unknown;
  /** Family-specific detail for logs and the job's error (e.g. `dfu status errWRITE`, `byte offset 1048576`). */
  detail?: string;
}

export class FlashError extends Error {
  readonly code: ErrorCode;
  readonly transient: boolean;
  readonly detail: string | undefined;

  constructor(code: ErrorCode, message: string, options: FlashErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FlashError';
    this.code = code;
    this.transient = options.transient ?? false;
    this.detail = options.detail;
  }
}

export function isFlashError(e: unknown): e is FlashError {
  return e instanceof FlashError;
}

/** Turn anything thrown into a FlashError, keeping a FlashError as it is. */
export function toFlashError(e: unknown, fallbackCode: ErrorCode = 'internal'): FlashError {
  if (e instanceof FlashError) return e;
  if (e instanceof Error && e.name === 'AbortError') return new FlashError('cancelled', 'Cancelled');
  const message = e instanceof Error ? e.message : String(e);
  return new FlashError(fallbackCode, message, { cause: e });
}

/**
 * Why a file could not be read, in words a user acts on ("it does not exist"), for messages that already name the file;
 * the system's own text only for the rare reasons without words here.
 */
export function fileReadReason(e: unknown): string {
  switch ((e as { code?: unknown } | null)?.code) {
    case 'ENOENT':
      return 'it does not exist';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a folder, not a file';
    case 'ENOTDIR':
      return 'a part of its path is a file, not a folder';
    default:
      return e instanceof Error ? e.message : String(e);
  }
}
