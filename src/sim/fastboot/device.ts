// The protocol core of the simulated fastboot device: state (partitions, slots, mode, download buffer, faults) and
// the command set, behind any face. A face opens a session with `connect()` and moves bytes through it.
import { expandPartitions, type FastbootSimConfig, type SimMode, type SimPartition } from './config.js';
import { SimDisconnectedError, SimSession, type EndReason, type SessionHost } from './connection.js';
import { LinkPacer } from './link-model.js';
import { PartitionStore } from './partition-store.js';
import { runCommand } from './commands.js';
import { applyLogical, loadState, saveState } from './device-state.js';
import { DownloadStore } from './download-store.js';
import type { VariableSource } from './variables.js';

/** The device is rebooting or unplugged: no session can be opened now. */
export class SimOfflineError extends Error {
  override name = 'SimOfflineError';
}

export type DeviceEvent =
  | { type: 'offline'; reason: EndReason | 'powerdown'; backInMs: number }
  | { type: 'online'; mode: SimMode };

interface DataPhase {
  size: number;
  offset: number;
  /** After an injected FAIL the rest of the announced bytes are swallowed, so the host stays in step. */
  discard: boolean;
}

interface SessionState {
  cmd: Uint8Array[];
  chain: Promise<void>;
  data?: DataPhase;
}

type ByteFault = 'fail' | 'disconnect' | 'stall';


export class FastbootSimDevice implements SessionHost, VariableSource {
  readonly config: FastbootSimConfig;
  readonly store: PartitionStore;
  readonly pacer: LinkPacer;
  /** Commands received, oldest first (capped), for tests and `oem log`. */
  readonly commandLog: string[] = [];
  /** Things a real device would silently tolerate but a correct host never does (zero-length packets, …). */
  readonly violations: string[] = [];
  readonly stats = { bytesDownloaded: 0, downloads: 0, flashes: 0, erases: 0, reboots: 0 };

  #partitions: SimPartition[];
  #mode: SimMode;
  #currentSlot: 'a' | 'b' = 'a';
  readonly #slotState = {
    a: { successful: true, unbootable: false, retryCount: 7 },
    b: { successful: false, unbootable: false, retryCount: 7 },
  };
  #unlocked: boolean;
  #online = false;
  #session: SimSession | undefined;
  readonly #states = new WeakMap<SimSession, SessionState>();
  /** The download buffer (a file beside the partitions). `downloads.size` is set once a download is complete. */
  readonly downloads: DownloadStore;
  staged: Uint8Array | undefined;
  readonly #fired = new Set<string>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  readonly #listeners = new Set<(e: DeviceEvent) => void>();
  #closed = false;
  #deleted: string[] = [];
  #saving: Promise<void> = Promise.resolve();

  private constructor(config: FastbootSimConfig) {
    this.config = config;
    this.store = new PartitionStore(config.storeDir);
    this.pacer = new LinkPacer(config.link);
    this.downloads = new DownloadStore(config.storeDir);
    this.#partitions = expandPartitions(config);
    this.#mode = config.mode;
    this.#unlocked = !config.locked;
  }

  static async create(config: FastbootSimConfig): Promise<FastbootSimDevice> {
    const dev = new FastbootSimDevice(config);
    const saved = await loadState(config.storeDir);
    if (saved) {
      dev.#partitions = applyLogical(dev.#partitions, saved);
      if (config.slots) dev.#currentSlot = saved.currentSlot;
      dev.#unlocked = saved.unlocked;
      dev.#deleted = saved.deleted;
    }
    await dev.store.open(dev.#partitions);
    dev.#online = true;
    return dev;
  }

  // ---------------------------------------------------------------- state (VariableSource)

  get serial(): string {
    return this.config.serial;
  }
  get product(): string {
    return this.config.product;
  }
  get mode(): SimMode {
    return this.#mode;
  }
  get slots(): boolean {
    return this.config.slots;
  }
  get currentSlot(): 'a' | 'b' {
    return this.#currentSlot;
  }
  get unlocked(): boolean {
    return this.#unlocked;
  }
  set unlocked(v: boolean) {
    this.#unlocked = v;
    this.#persist();
  }
  get maxDownloadSize(): number {
    return this.config.maxDownloadSize;
  }
  get versionBootloader(): string {
    return this.config.versionBootloader;
  }
  get versionBaseband(): string {
    return this.config.versionBaseband;
  }
  get partitions(): readonly SimPartition[] {
    return this.#partitions;
  }
  get online(): boolean {
    return this.#online;
  }
  slotState(slot: 'a' | 'b'): { successful: boolean; unbootable: boolean; retryCount: number } {
    return this.#slotState[slot];
  }

  setActiveSlot(slot: 'a' | 'b'): void {
    this.#currentSlot = slot;
    Object.assign(this.#slotState[slot], { unbootable: false, retryCount: 7 });
    this.#persist();
  }

  addPartition(p: SimPartition): void {
    this.#partitions.push(p);
    this.#deleted = this.#deleted.filter((n) => n !== p.name);
    this.#persist();
  }

  removePartition(name: string): void {
    this.#partitions = this.#partitions.filter((p) => p.name !== name);
    this.#deleted.push(name);
    this.#persist();
  }

  resizePartition(name: string, size: number): void {
    const p = this.#partitions.find((q) => q.name === name);
    if (p) p.size = size;
    this.#persist();
  }

  /** Save slot, lock and logical partitions (serialised; a failure to save never stops the device). */
  #persist(): void {
    const state = {
      version: 1 as const,
      currentSlot: this.#currentSlot,
      unlocked: this.#unlocked,
      logical: Object.fromEntries(this.#partitions.filter((p) => p.logical).map((p) => [p.name, p.size])),
      deleted: [...this.#deleted],
    };
    this.#saving = this.#saving.then(() => saveState(this.config.storeDir, state)).catch(() => undefined);
  }

  /** The partition file behind a reported name (for tests and `fetch`). */
  partitionPath(name: string): string {
    return this.store.pathOf(name);
  }

  // ---------------------------------------------------------------- sessions

  /** Open a host session; a previous one is ended (`replaced`). Throws SimOfflineError while rebooting/unplugged. */
  connect(): SimSession {
    if (this.#closed) throw new SimOfflineError(`simulated device ${this.serial} has been shut down`);
    if (!this.#online) throw new SimOfflineError(`simulated device ${this.serial} is rebooting or unplugged`);
    this.#session?.end('replaced');
    const s = new SimSession(this);
    this.#states.set(s, { cmd: [], chain: Promise.resolve() });
    this.#session = s;
    return s;
  }

  onEvent(listener: (e: DeviceEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  receive(session: SimSession, data: Uint8Array, endOfMessage: boolean): Promise<void> {
    const st = this.#states.get(session);
    if (!st) return Promise.reject(new SimDisconnectedError('closed'));
    if (st.data) return this.#acceptData(session, st, st.data, data);
    if (data.length === 0) {
      this.#violation('zero-length packet in the command phase');
      return Promise.resolve();
    }
    st.cmd.push(data.slice());
    if (!endOfMessage) return Promise.resolve();
    const bytes = Buffer.concat(st.cmd);
    st.cmd = [];
    const prev = st.chain;
    st.chain = prev
      .then(() => runCommand(this, session, bytes))
      .catch((e: unknown) => {
        if (!(e instanceof SimDisconnectedError)) this.reply(session, 'FAIL', `internal error: ${e instanceof Error ? e.message : String(e)}`);
      });
    // The device reads the next command once the previous one is done.
    return prev;
  }

  /** Queue one response packet: a 4-byte status and at most 252 bytes of text (INFO/TEXT longer texts are split). */
  reply(session: SimSession, status: 'OKAY' | 'FAIL' | 'INFO' | 'TEXT' | 'DATA', text = ''): void {
    if (status === 'INFO' || status === 'TEXT') {
      for (let i = 0; i === 0 || i < text.length; i += 252) session.respond(Buffer.from(status + text.slice(i, i + 252), 'latin1'));
      return;
    }
    session.respond(Buffer.from(status + text.slice(0, 252), 'latin1'));
  }

  /** Enter the data phase of `download`. */
  async beginDownload(session: SimSession, size: number): Promise<void> {
    const st = this.#states.get(session);
    if (!st) return;
    await this.downloads.begin();
    st.data = { size, offset: 0, discard: false };
    this.stats.downloads++;
  }

  /** The complete download in memory (tests, small images), or undefined. */
  readDownload(): Promise<Buffer | undefined> {
    return this.downloads.readAll();
  }

  #acceptData(session: SimSession, st: SessionState, d: DataPhase, data: Uint8Array): Promise<void> {
    if (data.length === 0) {
      this.#violation('zero-length packet in the data phase');
      return Promise.resolve();
    }
    const room = d.size - d.offset;
    if (data.length > room) this.#violation(`${data.length - room} bytes sent beyond the announced download size`);
    let take = Math.min(room, data.length);
    const hit = this.#byteFault(d, take);
    if (hit) take = hit.at;
    // Accepted once the bytes are staged (copied); the file write runs behind, at the link's pace.
    const staged = !d.discard && take > 0 ? this.downloads.stage(d.offset, take === data.length ? data : data.subarray(0, take)) : undefined;
    d.offset += take;
    this.stats.bytesDownloaded += take;
    const paced = staged ? Promise.all([staged, this.pacer.transfer(take)]).then(() => undefined) : this.pacer.transfer(take);
    if (hit) {
      const where = this.config.faults.repeat ? d.offset : this.stats.bytesDownloaded;
      if (hit.kind === 'disconnect') {
        this.unplug(session);
        return Promise.reject(new SimDisconnectedError('unplugged'));
      }
      if (hit.kind === 'stall') {
        session.stall();
        return session.park();
      }
      d.discard = true;
      this.reply(session, 'FAIL', `simulated failure after ${where} bytes (fail-after)`);
      d.offset = Math.min(d.size, d.offset + (Math.min(room, data.length) - take));
    }
    if (d.offset >= d.size) {
      st.data = undefined;
      if (!d.discard) {
        return paced.then(async () => {
          try {
            await this.downloads.flush();
          } catch (e) {
            this.reply(session, 'FAIL', `could not store the download: ${e instanceof Error ? e.message : String(e)}`);
            return;
          }
          this.downloads.size = d.size;
          this.reply(session, 'OKAY');
        });
      }
    }
    return paced;
  }

  /** The first armed byte fault that falls inside the next `take` bytes, and how many bytes precede it. */
  #byteFault(d: DataPhase, take: number): { kind: ByteFault; at: number } | undefined {
    const f = this.config.faults;
    const start = f.repeat ? d.offset : this.stats.bytesDownloaded;
    let best: { kind: ByteFault; at: number } | undefined;
    const consider = (kind: ByteFault, threshold: number | undefined): void => {
      if (threshold === undefined || (!f.repeat && this.#fired.has(kind))) return;
      if (threshold < start || threshold >= start + take) return;
      if (!best || threshold - start < best.at) best = { kind, at: threshold - start };
    };
    if (!d.discard) {
      consider('fail', f.failAfter);
      consider('disconnect', f.disconnectAfter);
      consider('stall', f.stallAfter);
    }
    if (best) this.#fired.add(best.kind);
    return best;
  }

  /** `fail-command` / `stall-command`: true when this command should FAIL (or hang) now. */
  commandFaultFires(command: string, kind: 'failCommand' | 'stallCommand' = 'failCommand'): boolean {
    const name = this.config.faults[kind];
    if (!name) return false;
    const matches = command === name || command.startsWith(`${name}:`) || command.startsWith(`${name} `);
    if (!matches || (!this.config.faults.repeat && this.#fired.has(kind))) return false;
    this.#fired.add(kind);
    return true;
  }

  logCommand(text: string): void {
    this.commandLog.push(text);
    if (this.commandLog.length > 1000) this.commandLog.splice(0, this.commandLog.length - 1000);
  }

  #violation(what: string): void {
    this.violations.push(what);
    if (this.violations.length > 100) this.violations.shift();
  }

  // ---------------------------------------------------------------- power

  /** Answer has been queued: disconnect once it is read, come back in `nextMode` after the reboot delay. */
  reboot(session: SimSession, nextMode: SimMode, reason: 'reboot' | 'powerdown' = 'reboot'): void {
    this.stats.reboots++;
    this.#online = false;
    session.endAfterDrain('reboot');
    void session.ended.then(() => this.#offline(reason, nextMode));
  }

  /** Vanish now (fault, or a test pulling the plug); come back after the reboot delay, as if replugged. */
  unplug(session?: SimSession): void {
    if (!this.#online && !session) return;
    this.#online = false;
    (session ?? this.#session)?.end('unplugged');
    this.#offline('unplugged', this.#mode);
  }

  #offline(reason: EndReason | 'powerdown', nextMode: SimMode): void {
    if (this.#closed) return;
    void this.downloads.clear().catch(() => undefined);
    this.staged = undefined;
    this.#session = undefined;
    const backInMs = this.config.rebootDelayMs;
    this.#emit({ type: 'offline', reason, backInMs });
    const t = setTimeout(() => {
      this.#timers.delete(t);
      if (this.#closed) return;
      this.#mode = nextMode;
      this.#online = true;
      this.#emit({ type: 'online', mode: nextMode });
    }, backInMs);
    this.#timers.add(t);
  }

  #emit(e: DeviceEvent): void {
    for (const l of [...this.#listeners]) {
      try {
        l(e);
      } catch {
        // A listener's failure must not stop the device.
      }
    }
  }

  /** Stop the device: end the session, cancel pending comebacks, close the partition files. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#online = false;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#session?.end('unplugged');
    await this.#saving;
    await this.downloads.close();
    await this.store.close();
  }
}
