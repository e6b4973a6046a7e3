// One live fastboot conversation per transport: the client, cached device limits, and one step at a time.
import type { DeviceLink, Transport } from '../../contracts/links.js';
import { FastbootClient } from './client.js';
import { COMMAND_MAX_BOOTLOADER, COMMAND_MAX_FASTBOOTD, DOWNLOAD_CAP, isYes, normaliseSlot, parseNumber } from './protocol.js';

export interface DriverTimeouts {
  /** Deadline for ordinary answers and for each transfer, in ms (default 30 s). */
  commandMs: number;
  /** Deadline for `flash:` and `erase:`, which real devices may take long over, in ms (default 5 min). */
  writeMs: number;
  /** How long a plan waits for a device to come back after `reboot-bootloader` / `reboot-fastboot` (default 90 s). */
  rebootWaitMs: number;
}

/** When a device does not report max-download-size. */
export const FALLBACK_MAX_DOWNLOAD = 256 * 1024 * 1024;

export class Session {
  readonly client: FastbootClient;
  private maxDownloadCache: number | undefined;
  private userspaceCache: boolean | undefined;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    readonly transport: Transport,
    readonly timeouts: DriverTimeouts,
  ) {
    this.client = new FastbootClient(transport, { timeoutMs: timeouts.commandMs, maxCommandLength: COMMAND_MAX_BOOTLOADER });
  }

  /** Runs `fn` after every earlier call on this session has finished (the wire carries one command at a time). */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** max-download-size, capped at 1 GiB like AOSP; a fallback (with a warning) when the device does not say. */
  async maxDownload(signal?: AbortSignal, warn?: (m: string) => void): Promise<number> {
    if (this.maxDownloadCache !== undefined) return this.maxDownloadCache;
    const v = parseNumber(await this.client.getvar('max-download-size', signal), { assumeHex: false });
    if (v === undefined || v <= 0) {
      warn?.(`The device does not report max-download-size; sending at most ${FALLBACK_MAX_DOWNLOAD} bytes per download`);
      this.maxDownloadCache = FALLBACK_MAX_DOWNLOAD;
    } else {
      this.maxDownloadCache = Math.min(v, DOWNLOAD_CAP);
    }
    return this.maxDownloadCache;
  }

  /** Userspace fastbootd (Android 10+ recovery) accepts long commands and knows logical partitions. */
  async isUserspace(signal?: AbortSignal): Promise<boolean> {
    if (this.userspaceCache === undefined) {
      this.userspaceCache = isYes(await this.client.getvar('is-userspace', signal));
      this.client.maxCommandLength = this.userspaceCache ? COMMAND_MAX_FASTBOOTD : COMMAND_MAX_BOOTLOADER;
    }
    return this.userspaceCache;
  }

  async currentSlot(signal?: AbortSignal): Promise<string | undefined> {
    return normaliseSlot(await this.client.getvar('current-slot', signal));
  }

  /** True / false when the device says; undefined when it does not know `has-slot`. */
  async hasSlot(partition: string, signal?: AbortSignal): Promise<boolean | undefined> {
    const v = await this.client.getvar(`has-slot:${partition}`, signal);
    return v === undefined ? undefined : isYes(v);
  }

  async partitionSize(partition: string, signal?: AbortSignal): Promise<number | undefined> {
    return parseNumber(await this.client.getvar(`partition-size:${partition}`, signal), { assumeHex: true });
  }

  async isLogical(partition: string, signal?: AbortSignal): Promise<boolean> {
    return isYes(await this.client.getvar(`is-logical:${partition}`, signal));
  }
}

const sessions = new WeakMap<Transport, Session>();

/** The session of the link's live transport (a new one after a reconnect). */
export async function openSession(link: DeviceLink, timeouts: DriverTimeouts, signal?: AbortSignal): Promise<Session> {
  const transport = await link.open(signal);
  let s = sessions.get(transport);
  if (!s) {
    s = new Session(transport, timeouts);
    sessions.set(transport, s);
  }
  return s;
}
