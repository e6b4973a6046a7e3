/** Errors as values: a stable `code`, a message a person can act on, and whether retrying may help. */

export class FlashError extends Error {
  readonly code: string;
  /** True when the same step may succeed if retried (device dropped and came back, timeout); never for user faults. */
  readonly transient: boolean;

  constructor(code: string, message: string, options: { transient?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FlashError';
    this.code = code;
    this.transient = options.transient ?? false;
  }
}

export function isFlashError(e: unknown): e is FlashError {
  return e instanceof FlashError;
}

/** Turn anything thrown into a FlashError, keeping a FlashError as it is. */
export function toFlashError(e: unknown, fallbackCode = 'internal'): FlashError {
  if (e instanceof FlashError) return e;
  if (e instanceof Error && e.name === 'AbortError') return new FlashError('cancelled', 'Cancelled');
  const message = e instanceof Error ? e.message : String(e);
  return new FlashError(fallbackCode, message, { cause: e });
}
