// USB control transfers on endpoint 0 over the WebUSB shape (DFU): deadlines, stalls as their own error, and a clear
// "unplugged" error when the device is gone; plus the UsbLink that opens a DFU device for its family.
import { FlashError, isFlashError } from '../contracts/errors.js';
import type { UsbLink } from '../contracts/links.js';
import type { UsbControlSetup, WebUsbDeviceLike } from '../contracts/webusb.js';
import { raceDeadline, throwIfAborted } from './deadline.js';
import { isPermissionError, udevRulePath } from './usb-permissions.js';

/** A control transfer that takes longer than this is a device that stopped answering. */
export const DEFAULT_CONTROL_TIMEOUT_MS = 5_000;

export const USB_REQUEST_GET_DESCRIPTOR = 6;
export const USB_DESCRIPTOR_DEVICE = 1;
export const USB_DESCRIPTOR_CONFIGURATION = 2;
export const USB_DESCRIPTOR_STRING = 3;
/** US English, the language every DFU bootloader we know answers in. */
export const USB_LANG_EN_US = 0x0409;

/** The device answered a control request with a STALL handshake: it refused the request in its present state. */
export class UsbStallError extends FlashError {
  readonly request: number;
  constructor(label: string, what: string, request: number) {
    super('device_rejected', `${label} refused ${what} (USB stall)`, { detail: 'stall', transient: false });
    this.name = 'UsbStallError';
    this.request = request;
  }
}

export function isStall(e: unknown): e is UsbStallError {
  return e instanceof UsbStallError;
}

export interface ControlOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Names the request in errors, e.g. `DFU GETSTATUS`. */
  what?: string;
}

/** True for the errors WebUSB implementations raise when the device left the bus (unplug, reset, re-enumeration). */
export function isGoneError(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as { code?: unknown }).code;
  const text = `${e.name} ${e.message} ${typeof code === 'string' || typeof code === 'number' ? code : ''}`;
  return /NotFoundError|disconnected|Device unavailable|No such device|LIBUSB_ERROR_NO_DEVICE|ENODEV/i.test(text);
}

/** One device's endpoint 0. Transfers run one at a time, in call order, as on the wire. */
export class UsbControl {
  readonly device: WebUsbDeviceLike;
  readonly label: string;
  readonly timeoutMs: number;
  #tail: Promise<unknown> = Promise.resolve();
  #gone = false;

  constructor(device: WebUsbDeviceLike, options: { label?: string; timeoutMs?: number } = {}) {
    this.device = device;
    this.label = options.label ?? usbLabel(device);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_CONTROL_TIMEOUT_MS;
  }

  /** True once a transfer failed because the device left the bus: this object will never work again. */
  get gone(): boolean {
    return this.#gone;
  }

  /**
   * Refuse every transfer from now on (a newer session took the device over): a cancelled job's driver that wakes up
   * late must not send requests into the next job's session.
   */
  retire(): void {
    this.#gone = true;
  }

  /** A control IN transfer; resolves with the bytes (possibly fewer than `length`). */
  async in(setup: UsbControlSetup, length: number, options: ControlOptions = {}): Promise<Uint8Array> {
    const fn = this.device.controlTransferIn?.bind(this.device);
    if (!fn) throw new FlashError('unsupported', `${this.label} cannot do USB control transfers here (no controlTransferIn)`);
    const what = options.what ?? `request ${setup.request}`;
    const r = await this.#run(() => fn(setup, length), what, options);
    if (r.status === 'stall') throw new UsbStallError(this.label, what, setup.request);
    if (r.status === 'babble') {
      throw new FlashError('protocol_error', `${this.label} sent more than the ${length} bytes asked for in ${what}`, { transient: true });
    }
    const v = r.data;
    return v ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : new Uint8Array(0);
  }

  /** A control OUT transfer (with or without a data stage); resolves with the bytes the device took. */
  async out(setup: UsbControlSetup, data?: Uint8Array, options: ControlOptions = {}): Promise<number> {
    const fn = this.device.controlTransferOut?.bind(this.device);
    if (!fn) throw new FlashError('unsupported', `${this.label} cannot do USB control transfers here (no controlTransferOut)`);
    const what = options.what ?? `request ${setup.request}`;
    // Always a buffer, empty for no data stage: the `usb` package's WebUSB reads `data.buffer` unconditionally.
    const payload = (data ?? new Uint8Array(0)) as Uint8Array<ArrayBuffer>;
    const r = await this.#run(() => fn(setup, payload), what, options);
    if (r.status === 'stall') throw new UsbStallError(this.label, what, setup.request);
    if (r.status !== 'ok') throw new FlashError('protocol_error', `${this.label} answered ${what} with ${r.status}`, { transient: true });
    return r.bytesWritten;
  }

  /** GET_DESCRIPTOR (standard, device recipient). */
  getDescriptor(type: number, index: number, length: number, langId = 0, options: ControlOptions = {}): Promise<Uint8Array> {
    return this.in(
      { requestType: 'standard', recipient: 'device', request: USB_REQUEST_GET_DESCRIPTOR, value: (type << 8) | index, index: langId },
      length,
      { what: `GET_DESCRIPTOR(${type}, ${index})`, ...options },
    );
  }

  /** The whole configuration descriptor (interfaces, functional descriptors): its 9-byte head first, then wTotalLength. */
  async configurationDescriptor(index: number, options: ControlOptions = {}): Promise<Uint8Array> {
    const head = await this.getDescriptor(USB_DESCRIPTOR_CONFIGURATION, index, 9, 0, options);
    if (head.length < 4) throw new FlashError('protocol_error', `${this.label} sent a configuration descriptor of ${head.length} bytes`);
    const total = head[2]! | (head[3]! << 8);
    if (total < 9) throw new FlashError('protocol_error', `${this.label} announced a configuration descriptor of ${total} bytes`);
    const all = await this.getDescriptor(USB_DESCRIPTOR_CONFIGURATION, index, total, 0, options);
    if (all.length < total) {
      throw new FlashError('protocol_error', `${this.label} sent ${all.length} of the ${total} bytes of its configuration descriptor`);
    }
    return all;
  }

  /** A string descriptor as text (UTF-16LE after the 2-byte head). */
  async string(index: number, langId = USB_LANG_EN_US, options: ControlOptions = {}): Promise<string> {
    const d = await this.getDescriptor(USB_DESCRIPTOR_STRING, index, 255, langId, options);
    const len = Math.min(d.length, d[0] ?? 0);
    let s = '';
    for (let i = 2; i + 1 < len; i += 2) s += String.fromCharCode(d[i]! | (d[i + 1]! << 8));
    return s;
  }

  #run<T>(call: () => Promise<T>, what: string, options: ControlOptions): Promise<T> {
    throwIfAborted(options.signal);
    if (this.#gone) return Promise.reject(this.#goneError(what));
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    // Endpoint 0 carries one transfer at a time: a transfer waits for the one before it (even one whose caller gave
    // up at its deadline), so requests reach the device in call order.
    const start = this.#tail.then(() => undefined, () => undefined);
    const transfer = start.then(() => {
      if (this.#gone) throw this.#goneError(what);
      return call();
    });
    this.#tail = transfer.catch(() => undefined);
    const timeout = (): FlashError =>
      new FlashError('timeout', `${this.label} did not answer ${what} within ${timeoutMs / 1000} s — replug it and retry`, {
        transient: true,
      });
    return raceDeadline(transfer, timeoutMs, timeout, options.signal).catch((e: unknown) => {
      throw this.#mapError(e, what);
    });
  }

  #goneError(what: string): FlashError {
    return new FlashError('disconnected', `${this.label} is no longer on the bus (during ${what}) — replug it and retry`, {
      transient: true,
    });
  }

  #mapError(e: unknown, what: string): FlashError {
    if (isFlashError(e)) return e;
    if (isGoneError(e)) {
      this.#gone = true;
      return new FlashError('disconnected', `${this.label} was unplugged or reset during ${what} — replug it and retry`, {
        cause: e,
        transient: true,
      });
    }
    const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    if (/timed? ?out|ETIMEDOUT|LIBUSB_ERROR_TIMEOUT/i.test(message)) {
      return new FlashError('timeout', `${this.label} did not answer ${what} in time (${message})`, { cause: e, transient: true });
    }
    return new FlashError('device_error', `${this.label} failed ${what} (${message}) — replug it and retry`, {
      cause: e,
      transient: true,
    });
  }
}

function hex4(n: number): string {
  return n.toString(16).padStart(4, '0');
}

export function usbLabel(device: WebUsbDeviceLike): string {
  return `USB device ${device.serialNumber || `${hex4(device.vendorId)}:${hex4(device.productId)}`}`;
}

/** What a family's USB open errors point to: its doc page and the host tools that may hold its devices. */
export interface UsbOpenHints {
  /** The doc that explains the udev rule, e.g. `docs/dfu.md`. */
  docs: string;
  /** Programs to close when the device is busy, e.g. `dfu-util`. */
  holders: string;
}

/** Maps a failure to open a USB device (bulk or control) to a FlashError a technician can act on. */
export function openUsbError(e: unknown, label: string, hints: UsbOpenHints = { docs: 'docs/dfu.md', holders: 'dfu-util' }): FlashError {
  if (isFlashError(e)) return e;
  const message = e instanceof Error ? e.message : String(e);
  if (isPermissionError(e)) {
    return new FlashError(
      'permission_denied',
      `No permission to open ${label} (${message}). Install the udev rule we ship: ` +
        `sudo cp ${udevRulePath()} /etc/udev/rules.d/ && sudo udevadm control --reload && sudo udevadm trigger, ` +
        `then replug the device (${hints.docs}).`,
      { cause: e },
    );
  }
  if (isGoneError(e)) {
    return new FlashError('disconnected', `${label} went away while it was being opened — replug it and retry`, { cause: e, transient: true });
  }
  if (/EBUSY|LIBUSB_ERROR_BUSY|busy|already claimed|InvalidStateError/i.test(`${e instanceof Error ? e.name : ''} ${message}`)) {
    return new FlashError('port_busy', `${label} is in use by another program (${message}): close ${hints.holders} or a browser tab using it, then retry.`, {
      cause: e,
      transient: true,
    });
  }
  return new FlashError('device_error', `Could not open ${label}: ${message}. Replug it and try again.`, { cause: e, transient: true });
}

/** The UsbLink of one plug-in of a DFU device: opens it and selects its first configuration when none is active. */
export function createUsbControlLink(device: WebUsbDeviceLike, options: { label?: string } = {}): UsbLink {
  const label = options.label ?? usbLabel(device);
  return {
    kind: 'usb',
    async open(signal?: AbortSignal): Promise<WebUsbDeviceLike> {
      throwIfAborted(signal);
      try {
        if (!device.opened) await device.open();
        if (!device.configuration) {
          const first = device.configurations[0];
          if (!first) throw new FlashError('unsupported', `${label} has no USB configuration`);
          await device.selectConfiguration(first.configurationValue);
        }
      } catch (e) {
        throw openUsbError(e, label);
      }
      return device;
    },
    async close(): Promise<void> {
      try {
        if (device.opened) await device.close();
      } catch {
        // Already closed or unplugged: nothing to release.
      }
    },
  };
}
