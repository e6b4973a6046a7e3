// Waiting for a device to (re)appear in the DeviceRegistry: after a reboot, or for a job queued before it was plugged in.
import { FlashError } from '../contracts/errors.js';
import type { DeviceRegistry, RegistryEntry } from './registry.js';

export interface WaitOptions {
  /** Only an attach newer than this generation counts (the device must come back, not be the one we already had). */
  newerThan?: number;
  /**
   * With `newerThan`: if the device we already had stays attached this long without going away (network devices
   * that reboot behind the same address), take it as back.
   */
  settleMs?: number;
}

export function waitForEntry(
  registry: DeviceRegistry,
  key: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  options: WaitOptions,
): Promise<RegistryEntry> {
  return new Promise<RegistryEntry>((resolve, reject) => {
    let settled = false;
    let settleTimer: ReturnType<typeof setTimeout> | undefined;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (settleTimer) clearTimeout(settleTimer);
      off();
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const accept = (entry: RegistryEntry): void => {
      void entry.ready.then(() => {
        // It may have gone away again while being described.
        if (registry.find(key) === entry) finish(() => resolve(entry));
      });
    };
    const check = (): void => {
      const entry = registry.find(key);
      if (!entry) {
        if (settleTimer) clearTimeout(settleTimer);
        settleTimer = undefined;
        return;
      }
      if (options.newerThan === undefined || entry.generation > options.newerThan) {
        accept(entry);
        return;
      }
      if (options.settleMs !== undefined && !settleTimer) {
        settleTimer = setTimeout(() => {
          if (registry.find(key) === entry) accept(entry);
        }, options.settleMs);
      }
    };
    const onAbort = (): void => finish(() => reject(signal?.reason instanceof Error ? signal.reason : new FlashError('cancelled', 'Cancelled')));
    const timer = setTimeout(
      () =>
        finish(() =>
          reject(
            new FlashError(
              'device_not_found',
              `Device ${key} did not appear within ${Math.round(timeoutMs / 100) / 10} s — check that it is plugged in and in the right mode.`,
              { transient: true },
            ),
          ),
        ),
      timeoutMs,
    );
    const off = registry.on(() => check());
    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    check();
  });
}
