// DeviceRegistry: the devices the families claimed, their state (idle/busy/error), description and job locks.
import { FlashError, toFlashError } from '../contracts/errors.js';
import type { Candidate, DeviceDescription, Family } from '../contracts/family.js';
import type { Link } from '../contracts/links.js';
import type { CandidateProvider } from '../contracts/provider.js';
import type { Device, DeviceState, PartitionInfo, ServerMessage } from '../protocol/messages.js';
import { CandidateIntake } from './candidates.js';
import { waitForEntry, type WaitOptions } from './registry-wait.js';

/** A device as the registry holds it: what the wire shows, the family that claimed it and the link it built. */
export interface AttachedDevice {
  /** Wire view without `state` (the registry owns state). */
  readonly device: Omit<Device, 'state'>;
  readonly family: Family;
  readonly link: Link;
  readonly candidate: Candidate;
  /** Set when the device was probed before it was listed (a candidate nobody named); the registry then skips probing. */
  readonly description?: DeviceDescription;
}

/** Where claimed devices go in (the candidate intake, and tests that attach a device directly). */
export interface AttachedSink {
  attach(device: AttachedDevice): void;
  detach(deviceId: string): void;
}

export interface RegistryEntry {
  readonly attached: AttachedDevice;
  /** Increases with every attach; a device that came back after a reboot has a higher generation. */
  readonly generation: number;
  readonly attachedAt: number;
  /** Resolves once `describe()` finished (successfully or not). */
  readonly ready: Promise<void>;
  name: string;
  serial: string;
  partitions?: PartitionInfo[];
  info: Record<string, string | number | boolean>;
  describing: boolean;
  describeError?: string;
}

export type RegistryListener = (event: 'attached' | 'detached' | 'updated', id: string) => void;

export interface RegistryOptions {
  emit: (message: ServerMessage) => void;
  /** The families that may claim candidates (src/families.ts). */
  families?: readonly Family[];
  /** Give up describing a device after this long (it is then in state `error`). */
  describeTimeoutMs?: number;
  /** Where unclaimed candidates and failed probes are noted (default: nowhere). */
  log?: (message: string) => void;
}

export class DeviceRegistry {
  private readonly entries = new Map<string, RegistryEntry>();
  /** Device id → job id holding it; survives a detach (reboot) so the job keeps its device. */
  private readonly locks = new Map<string, string>();
  /** Extra info keys the station sets (e.g. `station: 'done'`), kept across re-attaches. */
  private readonly stationInfo = new Map<string, Record<string, string | number | boolean>>();
  private readonly detachedAt = new Map<string, number>();
  private readonly listeners = new Set<RegistryListener>();
  private readonly providers: CandidateProvider[] = [];
  private generation = 0;
  private stopped = false;
  readonly sink: AttachedSink;
  /** Where providers offer candidates: matched against the families, claimed ones probed, then attached here. */
  readonly candidates: CandidateIntake;
  /** The families that claim candidates here. */
  readonly families: readonly Family[];

  constructor(private readonly options: RegistryOptions) {
    this.sink = {
      attach: (device) => this.attach(device),
      detach: (id) => this.detach(id),
    };
    this.families = options.families ?? [];
    this.candidates = new CandidateIntake(this, {
      families: options.families ?? [],
      probeTimeoutMs: options.describeTimeoutMs ?? 15_000,
      log: options.log ?? (() => undefined),
    });
  }

  async start(providers: CandidateProvider[]): Promise<string[]> {
    const problems: string[] = [];
    for (const p of providers) {
      try {
        await p.start(this.candidates);
        this.providers.push(p);
      } catch (e) {
        problems.push(`${p.name}: ${toFlashError(e).message}`);
      }
    }
    return problems;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled(this.providers.map((p) => p.stop()));
    await this.candidates.close();
  }

  on(listener: RegistryListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  list(): Device[] {
    return [...this.entries.keys()].map((id) => this.get(id) as Device);
  }

  get(id: string): Device | undefined {
    const e = this.entries.get(id);
    if (!e) return undefined;
    const d = e.attached.device;
    const device: Device = {
      id: d.id,
      protocol: d.protocol,
      transport: d.transport,
      name: e.name,
      serial: e.serial,
      state: this.stateOf(id, e),
      info: { ...e.info, ...(this.stationInfo.get(id) ?? {}) },
    };
    if (d.port !== undefined) device.port = d.port;
    if (e.partitions) device.partitions = e.partitions;
    device.targets = [...e.attached.family.targets];
    return device;
  }

  entry(id: string): RegistryEntry | undefined {
    return this.entries.get(id);
  }

  /** The entry whose id or serial is `key`. */
  find(key: string): RegistryEntry | undefined {
    const byId = this.entries.get(key);
    if (byId) return byId;
    for (const e of this.entries.values()) if (e.serial === key) return e;
    return undefined;
  }

  lockedBy(id: string): string | undefined {
    return this.locks.get(id);
  }

  /** Take the device for a job; false when another job holds it. */
  lock(id: string, jobId: string): boolean {
    const holder = this.locks.get(id);
    if (holder !== undefined && holder !== jobId) return false;
    this.locks.set(id, jobId);
    this.changed(id);
    return true;
  }

  unlock(id: string, jobId: string): void {
    if (this.locks.get(id) !== jobId) return;
    this.locks.delete(id);
    this.changed(id);
  }

  /** Station-owned info keys (merged into `Device.info`); `undefined` removes a key. */
  setStationInfo(id: string, patch: Record<string, string | number | boolean | undefined>): void {
    const cur = { ...(this.stationInfo.get(id) ?? {}) };
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined) delete cur[k];
      else cur[k] = v;
    }
    this.stationInfo.set(id, cur);
    this.changed(id);
  }

  stationInfoOf(id: string): Record<string, string | number | boolean> {
    return this.stationInfo.get(id) ?? {};
  }

  /** When the device was last detached (ms since epoch), if it ever was. */
  lastDetached(id: string): number | undefined {
    return this.detachedAt.get(id);
  }

  /** Wait until a device with this id or serial is attached and described (see WaitOptions for reboots). */
  waitFor(key: string, timeoutMs: number, signal?: AbortSignal, options: WaitOptions = {}): Promise<RegistryEntry> {
    return waitForEntry(this, key, timeoutMs, signal, options);
  }

  private stateOf(id: string, e: RegistryEntry): DeviceState {
    if (this.locks.has(id) || e.describing) return 'busy';
    if (e.describeError !== undefined) return 'error';
    return 'idle';
  }

  private attach(device: AttachedDevice): void {
    if (this.stopped) return;
    const id = device.device.id;
    const previous = this.entries.get(id);
    const heldByJob = this.locks.has(id);
    let markReady!: () => void;
    const ready = new Promise<void>((r) => (markReady = r));
    const entry: RegistryEntry = {
      attached: device,
      generation: ++this.generation,
      attachedAt: Date.now(),
      ready,
      name: device.device.name,
      serial: device.device.serial,
      info: { ...device.device.info },
      describing: !heldByJob && device.description === undefined,
    };
    if (device.description) applyDescription(entry, device.description);
    // A device that comes back while its job holds it (reboot) keeps what we knew; its job talks to it.
    if (heldByJob && previous?.partitions) entry.partitions = previous.partitions;
    else if (device.device.partitions) entry.partitions = device.device.partitions;
    this.entries.set(id, entry);
    this.options.emit({ type: 'device_attached', device: this.get(id) as Device, timestamp: Date.now() });
    this.notify('attached', id);
    if (!entry.describing) {
      markReady();
      return;
    }
    void this.describe(entry).finally(markReady);
  }

  private async describe(entry: RegistryEntry): Promise<void> {
    const id = entry.attached.device.id;
    const ac = new AbortController();
    const timeoutMs = this.options.describeTimeoutMs ?? 15_000;
    const timer = setTimeout(
      () => ac.abort(new FlashError('timeout', `The device did not answer within ${timeoutMs / 1000} s — replug it.`)),
      timeoutMs,
    );
    try {
      // A driver that ignores the signal must not hold the device in `describing` for ever.
      const aborted = new Promise<never>((_, reject) => ac.signal.addEventListener('abort', () => reject(toFlashError(ac.signal.reason)), { once: true }));
      const { family, link, candidate } = entry.attached;
      applyDescription(entry, await Promise.race([family.probe(link, candidate, ac.signal), aborted]));
    } catch (e) {
      const err = ac.signal.aborted ? toFlashError(ac.signal.reason) : toFlashError(e);
      entry.describeError = err.message;
      entry.info = { ...entry.info, error: `Could not read the device: ${err.message}` };
    } finally {
      clearTimeout(timer);
      entry.describing = false;
    }
    if (this.entries.get(id) === entry) this.changed(id);
  }

  /** A job's driver saw the device change (contract JobContext.describe): merge it in and tell the clients. */
  redescribe(id: string, patch: Partial<DeviceDescription>): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    applyDescription(entry, { ...patch, info: patch.info ?? {} });
    this.changed(id);
  }

  private detach(id: string): void {
    if (!this.entries.delete(id)) return;
    this.detachedAt.set(id, Date.now());
    this.options.emit({ type: 'device_detached', deviceId: id, timestamp: Date.now() });
    this.notify('detached', id);
  }

  private changed(id: string): void {
    const device = this.get(id);
    if (!device) return;
    this.options.emit({ type: 'device_updated', device, timestamp: Date.now() });
    this.notify('updated', id);
  }

  private notify(event: 'attached' | 'detached' | 'updated', id: string): void {
    for (const l of [...this.listeners]) {
      try {
        l(event, id);
      } catch {
        // A listener's fault must not break device handling.
      }
    }
  }
}

function applyDescription(entry: RegistryEntry, d: DeviceDescription): void {
  if (d.name) entry.name = d.name;
  if (d.serial) entry.serial = d.serial;
  if (d.partitions) entry.partitions = d.partitions;
  entry.info = { ...entry.info, ...d.info };
  delete entry.describeError;
}
