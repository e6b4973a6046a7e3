// The in-process USB face of a simulated fastboot device: a WebUSB-shaped device (interface FF/42/03, bulk IN/OUT,
// 512-byte high-speed packets) that our USB transport opens exactly as it opens `usb`'s WebUSB devices.
// One object is one plug-in: after the device reboots or is unplugged every call rejects, like a real unplugged
// device, and the provider offers a fresh object when it comes back.
import type {
  UsbConfigurationLike,
  UsbEndpointLike,
  UsbInTransferResultLike,
  UsbInterfaceLike,
  UsbOutTransferResultLike,
  WebUsbDeviceLike,
} from '../../contracts/webusb.js';
import type { FastbootSimDevice } from './device.js';
import { SimDisconnectedError, type SimSession } from './connection.js';
import { UsbSimError } from '../usb-error.js';

/** Google's fastboot VID/PID, which hosts commonly match. */
export const SIM_VENDOR_ID = 0x18d1;
export const SIM_PRODUCT_ID = 0x4ee0;
export const SIM_IN_ENDPOINT = 1;
export const SIM_OUT_ENDPOINT = 2;
export const SIM_PACKET_SIZE = 512;


export interface SimUsbOptions {
  /** Applied when a transfer is called without its own timeout; 0 = wait forever (the WebUSB default). */
  defaultTimeoutMs?: number;
}

class SimInterface implements UsbInterfaceLike {
  readonly interfaceNumber = 0;
  readonly alternate;
  readonly alternates;
  claimed = false;
  constructor() {
    const endpoints: UsbEndpointLike[] = [
      { endpointNumber: SIM_IN_ENDPOINT, direction: 'in', type: 'bulk', packetSize: SIM_PACKET_SIZE },
      { endpointNumber: SIM_OUT_ENDPOINT, direction: 'out', type: 'bulk', packetSize: SIM_PACKET_SIZE },
    ];
    this.alternate = { alternateSetting: 0, interfaceClass: 0xff, interfaceSubclass: 0x42, interfaceProtocol: 0x03, interfaceName: 'fastboot', endpoints };
    this.alternates = [this.alternate];
  }
}

export class SimUsbDevice implements WebUsbDeviceLike {
  readonly vendorId = SIM_VENDOR_ID;
  readonly productId = SIM_PRODUCT_ID;
  readonly manufacturerName = 'Flash Station';
  readonly productName: string;
  readonly serialNumber: string;
  readonly configurations: readonly UsbConfigurationLike[];
  readonly #iface = new SimInterface();
  readonly #device: FastbootSimDevice;
  readonly #options: SimUsbOptions;
  #opened = false;
  #configured = false;
  #session: SimSession | undefined;
  #gone = false;
  /** Called once when this plug-in ends (reboot or unplug). */
  onGone?: () => void;

  constructor(device: FastbootSimDevice, options: SimUsbOptions = {}) {
    this.#device = device;
    this.#options = options;
    this.productName = `${device.product} (simulated fastboot)`;
    this.serialNumber = device.serial;
    this.configurations = [{ configurationValue: 1, interfaces: [this.#iface] }];
    if (!device.online) this.#gone = true;
  }

  get opened(): boolean {
    return this.#opened;
  }

  get configuration(): UsbConfigurationLike | null {
    return this.#configured ? this.configurations[0]! : null;
  }

  /** True once the device has rebooted or been unplugged: this object is dead. */
  get disconnected(): boolean {
    return this.#gone;
  }

  #gonePlease(): void {
    if (this.#gone) return;
    this.#gone = true;
    this.#opened = false;
    this.#iface.claimed = false;
    this.onGone?.();
  }

  #alive(): void {
    if (this.#gone) throw new UsbSimError('NotFoundError', 'The device was disconnected.');
  }

  #newSession(): void {
    const s = this.#device.connect();
    this.#session = s;
    void s.ended.then((reason) => {
      if (reason === 'reboot' || reason === 'unplugged') this.#gonePlease();
    });
  }

  async open(): Promise<void> {
    this.#alive();
    if (this.#opened) return;
    try {
      this.#newSession();
    } catch {
      this.#gonePlease();
      this.#alive();
    }
    this.#opened = true;
  }

  async close(): Promise<void> {
    this.#alive();
    this.#opened = false;
    this.#iface.claimed = false;
    // Closing cancels pending transfers (they reject with AbortError) and ends the host session.
    this.#session?.close();
    this.#session = undefined;
  }

  async reset(): Promise<void> {
    this.#alive();
    if (!this.#opened) throw new UsbSimError('InvalidStateError', 'The device must be opened first.');
    this.#session?.close();
    this.#newSession();
  }

  async selectConfiguration(configurationValue: number): Promise<void> {
    this.#alive();
    if (!this.#opened) throw new UsbSimError('InvalidStateError', 'The device must be opened first.');
    if (configurationValue !== 1) throw new UsbSimError('NotFoundError', `The configuration value ${configurationValue} is not valid.`);
    this.#configured = true;
  }

  async claimInterface(interfaceNumber: number): Promise<void> {
    this.#alive();
    if (!this.#opened) throw new UsbSimError('InvalidStateError', 'The device must be opened first.');
    if (!this.#configured) throw new UsbSimError('InvalidStateError', 'The device must have a configuration selected.');
    if (interfaceNumber !== 0) throw new UsbSimError('NotFoundError', `The interface number ${interfaceNumber} is not valid.`);
    this.#iface.claimed = true;
  }

  async releaseInterface(interfaceNumber: number): Promise<void> {
    this.#alive();
    if (interfaceNumber !== 0) throw new UsbSimError('NotFoundError', `The interface number ${interfaceNumber} is not valid.`);
    this.#iface.claimed = false;
  }

  async clearHalt(): Promise<void> {
    this.#alive();
  }

  #ready(endpoint: number, direction: 'in' | 'out'): SimSession {
    this.#alive();
    if (!this.#opened) throw new UsbSimError('InvalidStateError', 'The device must be opened first.');
    if (!this.#iface.claimed) throw new UsbSimError('InvalidStateError', 'The interface must be claimed first.');
    const want = direction === 'in' ? SIM_IN_ENDPOINT : SIM_OUT_ENDPOINT;
    if (endpoint !== want) throw new UsbSimError('NotFoundError', `No ${direction} endpoint ${endpoint} on the claimed interface.`);
    if (!this.#session || this.#session.closed) throw new UsbSimError('NetworkError', 'A transfer error has occurred.');
    return this.#session;
  }

  #mapError(e: unknown): Error {
    if (e instanceof SimDisconnectedError) {
      if (e.reason === 'closed' || e.reason === 'replaced') return new UsbSimError('AbortError', 'The transfer was cancelled.');
      this.#gonePlease();
      return new UsbSimError('NetworkError', 'A transfer error has occurred (the device was disconnected).');
    }
    return e instanceof Error ? e : new Error(String(e));
  }

  #deadline<T>(work: (signal: AbortSignal) => Promise<T>, timeout: number | undefined): Promise<T> {
    const ms = timeout ?? this.#options.defaultTimeoutMs ?? 0;
    const ac = new AbortController();
    if (!(ms > 0)) return work(ac.signal);
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => {
        ac.abort(new UsbSimError('TimeoutError', `The transfer timed out after ${ms} ms.`));
        reject(new UsbSimError('TimeoutError', `The transfer timed out after ${ms} ms.`));
      }, ms);
      work(ac.signal).then(
        (v) => {
          clearTimeout(t);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(t);
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  }

  async transferOut(endpointNumber: number, data: BufferSource, timeout?: number): Promise<UsbOutTransferResultLike> {
    const session = this.#ready(endpointNumber, 'out');
    const bytes = ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : new Uint8Array(data);
    try {
      // The bytes are taken now (in submission order); the promise settles when they have crossed the link.
      await this.#deadline(() => session.write(bytes, true), timeout);
    } catch (e) {
      throw this.#mapError(e);
    }
    return { bytesWritten: bytes.length, status: 'ok' };
  }

  async transferIn(endpointNumber: number, length: number, timeout?: number): Promise<UsbInTransferResultLike> {
    const session = this.#ready(endpointNumber, 'in');
    if (!Number.isInteger(length) || length <= 0) throw new TypeError(`transferIn length must be a positive integer (got ${length})`);
    let bytes: Uint8Array;
    try {
      bytes = await this.#deadline((signal) => session.read(length, signal), timeout);
    } catch (e) {
      throw this.#mapError(e);
    }
    // A response longer than the buffer overflows it, as on a real bus.
    const status = bytes.length > length ? 'babble' : 'ok';
    const out = bytes.subarray(0, length);
    const copy = new Uint8Array(out);
    return { data: new DataView(copy.buffer), status };
  }
}
