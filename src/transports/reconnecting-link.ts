/** A DeviceLink that keeps one open transport and connects a fresh one when the last has closed or failed. */
import type { DeviceLink, Transport } from '../contracts/links.js';
import { throwIfAborted } from './deadline.js';

export function reconnectingLink(connect: (signal?: AbortSignal) => Promise<Transport>): DeviceLink {
  let current: Transport | undefined;
  return {
    async open(signal?: AbortSignal): Promise<Transport> {
      throwIfAborted(signal);
      if (current && !current.closed) return current;
      // A transport that failed (unplug, stall, reset) is released before the device is reached again.
      if (current) await current.close().catch(() => undefined);
      current = undefined;
      current = await connect(signal);
      return current;
    },
    async close(): Promise<void> {
      const t = current;
      current = undefined;
      if (t) await t.close();
    },
  };
}
