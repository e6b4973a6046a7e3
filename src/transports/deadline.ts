// Deadlines and cancellation shared by the transports: race a promise against a timeout and an AbortSignal.
import { FlashError } from '../contracts/errors.js';

/** The error every transport throws when its caller cancels. */
export function cancelledError(): FlashError {
  return new FlashError('cancelled', 'Cancelled');
}

export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw cancelledError();
}

/**
 * Settles with `promise`, or rejects with `onTimeout()` after `timeoutMs` (no deadline when undefined or ≤ 0), or with
 * `cancelled` when `signal` aborts. The underlying operation keeps running; callers that care keep its promise.
 */
export function raceDeadline<T>(
  promise: Promise<T>,
  timeoutMs: number | undefined,
  onTimeout: () => FlashError,
  signal?: AbortSignal,
): Promise<T> {
  if (signal?.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(cancelledError());
  }
  if ((timeoutMs === undefined || timeoutMs <= 0 || !Number.isFinite(timeoutMs)) && !signal) return promise;
  return new Promise<T>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = (): void => {
      cleanup();
      reject(cancelledError());
    };
    const cleanup = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    if (timeoutMs !== undefined && timeoutMs > 0 && Number.isFinite(timeoutMs)) {
      timer = setTimeout(() => {
        cleanup();
        reject(onTimeout());
      }, timeoutMs);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        cleanup();
        resolve(v);
      },
      (e: unknown) => {
        cleanup();
        reject(e);
      },
    );
  });
}

/** Waits `ms`, or rejects with `cancelled` when `signal` aborts first. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return raceDeadline(
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      signal?.addEventListener('abort', () => clearTimeout(t), { once: true });
    }),
    undefined,
    cancelledError,
    signal,
  );
}

/** `1234567` → `1.2 MB (1234567 bytes)`: byte counts in error messages, readable and exact. */
export function describeBytes(n: number): string {
  if (n < 1000) return `${n} bytes`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = -1;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v.toFixed(1)} ${units[u] ?? 'B'} (${n} bytes)`;
}
