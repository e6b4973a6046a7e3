// One open DFU interface of one enumeration of a device: its descriptors (functional descriptor, alt settings and the
// DfuSe layouts their names announce), the class requests, the selected alt, and the way from runtime mode into DFU
// mode (DETACH, a USB reset where the device will not detach itself, then the device leaves the bus).
import { FlashError, isFlashError } from '../../contracts/errors.js';
import type { WebUsbDeviceLike } from '../../contracts/webusb.js';
import { UsbControl, isStall } from '../../transports/usb-control.js';
import { DFU_PROTOCOL_RUNTIME, DFUSE_VERSION, readDfuInterface, type DfuAlt, type DfuFunctional, type DfuInterfaceInfo } from './descriptors.js';
import { parseLayout, type DfuseLayout, type LayoutSegment } from './dfuse-layout.js';
import { DfuRequests, pollWait, stateName, statusName, type DfuStatus } from './protocol.js';

/** How long a device may take to leave the bus after DETACH (or the reset that follows it), beyond wDetachTimeOut. */
export const DETACH_GRACE_MS = 2_000;

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

export class DfuSession {
  readonly device: WebUsbDeviceLike;
  readonly control: UsbControl;
  readonly req: DfuRequests;
  readonly iface: DfuInterfaceInfo;
  /** The DfuSe layout each alt setting's name announces (undefined for plain DFU names). */
  readonly layouts: ReadonlyArray<DfuseLayout | undefined>;
  /** Each alt's partition name as the station lists it (safe for `start_flash`: letters, digits, `_.-`). */
  readonly names: readonly string[];
  #alt = -1;
  /** Set when a step left the device somewhere we cannot talk to it any more (manifested, reset, left DFU). */
  finished = false;

  private constructor(device: WebUsbDeviceLike, control: UsbControl, iface: DfuInterfaceInfo) {
    this.device = device;
    this.control = control;
    this.iface = iface;
    this.req = new DfuRequests(control, iface.interfaceNumber);
    this.layouts = iface.alts.map((a) => (iface.functional.version === DFUSE_VERSION || a.name.startsWith('@') ? parseLayout(a.name) : undefined));
    this.names = partitionNames(iface.alts, this.layouts);
  }

  /** Reads the descriptors and claims the DFU interface; in DFU mode, selects alt 0 and brings the device to dfuIDLE. */
  static async open(device: WebUsbDeviceLike, label: string | undefined, signal?: AbortSignal): Promise<DfuSession> {
    const control = new UsbControl(device, label === undefined ? {} : { label });
    const iface = await readDfuInterface(control, signal);
    try {
      await device.claimInterface(iface.interfaceNumber);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if (/busy|claimed/i.test(message)) {
        throw new FlashError('port_busy', `${control.label}: its DFU interface is in use by another program (${message}); close dfu-util or a browser tab using it`, { cause: e, transient: true });
      }
      throw new FlashError('device_error', `${control.label}: could not claim its DFU interface (${message}) — replug it and retry`, { cause: e, transient: true });
    }
    const s = new DfuSession(device, control, iface);
    if (!s.runtime) {
      await s.selectAlt(0, signal);
      await s.req.toIdle();
    }
    return s;
  }

  get label(): string {
    return this.control.label;
  }

  get functional(): DfuFunctional {
    return this.iface.functional;
  }

  get transferSize(): number {
    return this.iface.functional.transferSize;
  }

  /** ST's DfuSe extension (bcdDFUVersion 0x011A): SET_ADDRESS and ERASE in DNLOAD block 0. */
  get dfuse(): boolean {
    return this.iface.functional.version === DFUSE_VERSION;
  }

  /** The device runs its application and only offers DETACH (interface protocol 1). */
  get runtime(): boolean {
    return this.iface.protocol === DFU_PROTOCOL_RUNTIME;
  }

  get alts(): readonly DfuAlt[] {
    return this.iface.alts;
  }

  get alt(): number {
    return this.#alt;
  }

  /**
   * True when this session can no longer be used: unplugged, reset, manifested, or its device was closed under it (a
   * cancel that closed the connection drops the interface claim, even once the device is opened again).
   */
  get stale(): boolean {
    return this.finished || this.control.gone || !this.device.opened || !this.#claimed();
  }

  #claimed(): boolean {
    const i = this.device.configuration?.interfaces.find((x) => x.interfaceNumber === this.iface.interfaceNumber);
    return i?.claimed !== false;
  }

  /** A newer session took the device over: this one sends nothing more (a late driver of a cancelled job). */
  retire(): void {
    this.finished = true;
    this.control.retire();
  }

  async selectAlt(alt: number, signal?: AbortSignal): Promise<void> {
    if (alt === this.#alt) return;
    if (!this.iface.alts.some((a) => a.alt === alt)) throw new FlashError('partition_not_found', `${this.label} has no DFU alt setting ${alt}`);
    if (signal?.aborted) throw new FlashError('cancelled', 'Cancelled');
    if (this.device.selectAlternateInterface) {
      try {
        await this.device.selectAlternateInterface(this.iface.interfaceNumber, alt);
      } catch (e) {
        throw new FlashError('device_error', `${this.label} did not select alt setting ${alt} (${e instanceof Error ? e.message : String(e)})`, { cause: e, transient: true });
      }
    } else if (alt !== 0) {
      throw new FlashError('unsupported', `${this.label}: alternate settings cannot be selected through this USB stack`);
    }
    this.#alt = alt;
  }

  /** The alt setting a partition name means: its name, the name of its DfuSe layout, or `altN`. */
  altByName(name: string): DfuAlt | undefined {
    const i = this.names.indexOf(name);
    if (i >= 0) return this.iface.alts[i];
    return (
      this.iface.alts.find((a, j) => a.name === name || this.layouts[j]?.name === name) ??
      (/^alt\d+$/.test(name) ? this.iface.alts.find((a) => a.alt === Number(name.slice(3))) : undefined)
    );
  }

  /** The alt setting whose DfuSe layout holds `address`, and the segment there. */
  layoutAt(address: number): { alt: number; layout: DfuseLayout; segment: LayoutSegment } | undefined {
    for (const [i, layout] of this.layouts.entries()) {
      const segment = layout?.segments.find((s) => address >= s.start && address < s.end);
      if (layout && segment) return { alt: this.iface.alts[i]!.alt, layout, segment };
    }
    return undefined;
  }

  layoutOf(alt: number): DfuseLayout | undefined {
    const i = this.iface.alts.findIndex((a) => a.alt === alt);
    return i < 0 ? undefined : this.layouts[i];
  }

  /** GETSTATUS, read once, with the state named for logs. */
  async status(signal?: AbortSignal): Promise<DfuStatus> {
    return this.req.getStatus(signal);
  }

  /**
   * Runtime mode → DFU mode: DETACH, then (when the device will not detach by itself) a USB reset; resolves once this
   * enumeration has left the bus. The caller then waits for the DFU-mode enumeration to appear.
   */
  async detach(signal?: AbortSignal): Promise<void> {
    const f = this.functional;
    const timeout = Math.max(f.detachTimeoutMs, 1);
    try {
      await this.req.detach(timeout, signal);
    } catch (e) {
      if (!(isFlashError(e) && e.code === 'disconnected')) {
        if (isStall(e)) throw new FlashError('device_rejected', `${this.label} refused DFU DETACH in runtime mode (USB stall)`, { cause: e });
        throw e;
      }
    }
    this.finished = true;
    if (!f.willDetach && !this.control.gone) await this.usbReset();
    await this.waitGone(f.detachTimeoutMs + DETACH_GRACE_MS, signal);
  }

  /** A USB bus reset (the device re-enumerates); the errors of a device that leaves at once are what we expect. */
  async usbReset(): Promise<void> {
    this.finished = true;
    if (!this.device.reset) {
      throw new FlashError('unsupported', `${this.label} needs a USB reset, which this USB stack cannot send: replug it`);
    }
    try {
      await this.device.reset();
    } catch {
      // The device left the bus during the reset: that is the reset working.
    }
  }

  /** Resolves once this enumeration is off the bus (its transfers fail as unplugged); rejects after `ms`. */
  async waitGone(ms: number, signal?: AbortSignal): Promise<void> {
    const until = performance.now() + ms;
    while (performance.now() < until) {
      if (this.control.gone || !this.device.opened) return;
      try {
        await this.control.in(
          { requestType: 'class', recipient: 'interface', request: 5, value: 0, index: this.iface.interfaceNumber },
          1,
          { what: 'DFU GETSTATE', timeoutMs: 500 },
        );
      } catch (e) {
        if (isFlashError(e) && e.code === 'disconnected') return;
      }
      if (this.control.gone || !this.device.opened) return;
      await pollWait(20, signal);
    }
    throw new FlashError('device_error', `${this.label} did not leave runtime mode within ${ms / 1000} s of DFU DETACH — replug it holding its DFU button, then retry`, {
      transient: true,
    });
  }

  /** Leaves the device in dfuIDLE (after a cancel or a failure); never throws for a device that already left. */
  async settle(): Promise<void> {
    if (this.stale) return;
    try {
      await this.req.toIdle();
    } catch {
      // Unplugged or wedged: the error the caller reports already says so.
    }
  }

  async release(): Promise<void> {
    try {
      if (!this.stale) await this.device.releaseInterface(this.iface.interfaceNumber);
    } catch {
      // Gone already.
    }
  }

  describeStatus(st: DfuStatus): string {
    return `${statusName(st.status)}, ${stateName(st.state)}`;
  }

  /** An alt's layout as text for errors: `Internal Flash: 0x08000000–0x08080000` (contiguous segments merged). */
  layoutText(alt: number): string {
    const l = this.layoutOf(alt);
    if (!l) return 'no memory layout';
    const spans: Array<[number, number]> = [];
    for (const seg of l.segments) {
      const last = spans.at(-1);
      if (last && last[1] === seg.start) last[1] = seg.end;
      else spans.push([seg.start, seg.end]);
    }
    return `${l.name}: ${spans.map(([a, b]) => `${hex(a)}–${hex(b)}`).join(', ')}`;
  }
}

/**
 * The partition names of the alts: a DfuSe alt is named by its layout (`@Internal Flash /0x08…` → `Internal_Flash`),
 * a plain one by its string; characters `start_flash` does not take become `_`; a clash or an empty name becomes `altN`.
 */
export function partitionNames(alts: readonly DfuAlt[], layouts: ReadonlyArray<DfuseLayout | undefined>): string[] {
  const out: string[] = [];
  for (const [i, a] of alts.entries()) {
    const raw = layouts[i]?.name || a.name;
    let name = raw.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 64);
    if (!name || out.includes(name)) name = `alt${a.alt}`;
    out.push(name);
  }
  return out;
}
