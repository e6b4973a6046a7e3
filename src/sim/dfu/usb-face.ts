// The in-process WebUSB face of a simulated DFU device: one object is one enumeration (after a detach, reset, leave or
// unplug every call rejects with NotFoundError, as an unplugged device does). Control transfers on endpoint 0 go
// through the link model; standard GET_DESCRIPTOR is answered from the descriptor bytes, class requests by the device.
import type {
  UsbAlternateInterfaceLike,
  UsbConfigurationLike,
  UsbControlSetup,
  UsbInTransferResultLike,
  UsbInterfaceLike,
  UsbOutTransferResultLike,
  WebUsbDeviceLike,
} from '../../contracts/webusb.js';
import { buildDescriptors, DFU_CLASS, DFU_SUBCLASS, stringDescriptor, type DfuDescriptorSet } from './descriptors.js';
import type { DfuSimDevice } from './device.js';
import { ControlPacer } from './link-model.js';
import { UsbSimError } from '../usb-error.js';

class FaceInterface implements UsbInterfaceLike {
  readonly interfaceNumber = 0;
  readonly alternates: UsbAlternateInterfaceLike[];
  alternate: UsbAlternateInterfaceLike;
  claimed = false;
  constructor(set: DfuDescriptorSet) {
    this.alternates = set.altNames.map((name, i) => ({
      alternateSetting: i,
      interfaceClass: DFU_CLASS,
      interfaceSubclass: DFU_SUBCLASS,
      interfaceProtocol: set.protocol,
      interfaceName: name,
      endpoints: [],
    }));
    this.alternate = this.alternates[0]!;
  }
}

function bytesOf(data: BufferSource | undefined): Uint8Array {
  if (!data) return new Uint8Array(0);
  return ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
}

export class DfuUsbFace implements WebUsbDeviceLike {
  readonly vendorId: number;
  readonly productId: number;
  readonly manufacturerName = 'Flash Station';
  readonly productName: string;
  readonly serialNumber: string;
  readonly configurations: readonly UsbConfigurationLike[];
  readonly #device: DfuSimDevice;
  readonly #generation: number;
  readonly #set: DfuDescriptorSet;
  readonly #iface: FaceInterface;
  readonly #pacer: ControlPacer;
  #opened = false;

  constructor(device: DfuSimDevice, pacer?: ControlPacer) {
    this.#device = device;
    this.#generation = device.generation;
    const cfg = device.config;
    this.#set = buildDescriptors(cfg, device.mode);
    this.#iface = new FaceInterface(this.#set);
    this.#pacer = pacer ?? new ControlPacer(cfg.speed);
    this.vendorId = cfg.vendorId;
    this.productId = cfg.productId;
    this.serialNumber = cfg.serial;
    this.productName = this.#set.strings.get(2) ?? 'DFU';
    this.configurations = [{ configurationValue: 1, interfaces: [this.#iface] }];
  }

  get opened(): boolean {
    return this.#opened && !this.gone;
  }

  /** Configured by the OS at enumeration, as on Linux. */
  get configuration(): UsbConfigurationLike | null {
    return this.configurations[0]!;
  }

  get gone(): boolean {
    return !this.#device.present || this.#device.generation !== this.#generation;
  }

  #alive(): void {
    if (this.gone) throw new UsbSimError('NotFoundError', 'The device was disconnected.');
  }

  #openFirst(): void {
    this.#alive();
    if (!this.#opened) throw new UsbSimError('InvalidStateError', 'The device must be opened first.');
  }

  async open(): Promise<void> {
    this.#alive();
    this.#opened = true;
  }

  async close(): Promise<void> {
    this.#alive();
    this.#opened = false;
    this.#iface.claimed = false;
  }

  async selectConfiguration(value: number): Promise<void> {
    this.#openFirst();
    if (value !== 1) throw new UsbSimError('NotFoundError', `The configuration value ${value} is not valid.`);
  }

  async claimInterface(n: number): Promise<void> {
    this.#openFirst();
    if (n !== 0) throw new UsbSimError('NotFoundError', `The interface number ${n} is not valid.`);
    this.#iface.claimed = true;
  }

  async releaseInterface(n: number): Promise<void> {
    this.#openFirst();
    if (n !== 0) throw new UsbSimError('NotFoundError', `The interface number ${n} is not valid.`);
    this.#iface.claimed = false;
  }

  async selectAlternateInterface(n: number, alt: number): Promise<void> {
    this.#openFirst();
    if (n !== 0 || !this.#iface.claimed) throw new UsbSimError('InvalidStateError', 'The interface must be claimed first.');
    const a = this.#iface.alternates[alt];
    if (!a || (this.#device.mode === 'dfu' && !this.#device.selectAlt(alt))) {
      throw new UsbSimError('NotFoundError', `The alternate setting ${alt} is not valid.`);
    }
    await this.#pacer.transfer(0);
    this.#iface.alternate = a;
  }

  async reset(): Promise<void> {
    this.#openFirst();
    this.#device.usbReset();
    throw new UsbSimError('NotFoundError', 'The device was disconnected.');
  }

  async transferIn(): Promise<UsbInTransferResultLike> {
    this.#openFirst();
    throw new UsbSimError('NotFoundError', 'No such endpoint on a DFU interface.');
  }

  async transferOut(): Promise<UsbOutTransferResultLike> {
    this.#openFirst();
    throw new UsbSimError('NotFoundError', 'No such endpoint on a DFU interface.');
  }

  #classReady(setup: UsbControlSetup): void {
    if (setup.recipient === 'interface' && (setup.index & 0xff) !== 0) {
      throw new UsbSimError('NotFoundError', `The interface number ${setup.index} is not valid.`);
    }
    if (setup.recipient === 'interface' && !this.#iface.claimed) {
      throw new UsbSimError('InvalidStateError', 'The interface must be claimed first.');
    }
  }

  async controlTransferIn(setup: UsbControlSetup, length: number): Promise<UsbInTransferResultLike> {
    this.#openFirst();
    let answer: Uint8Array | undefined;
    if (setup.requestType === 'standard' && setup.request === 6) {
      const type = setup.value >> 8;
      const index = setup.value & 0xff;
      answer = type === 1 ? this.#set.device : type === 2 && index === 0 ? this.#set.configuration : type === 3 ? stringDescriptor(this.#set, index) : undefined;
      await this.#pacer.transfer(Math.min(length, answer?.length ?? 0));
      this.#alive();
      if (!answer) return { status: 'stall' };
      const out = new Uint8Array(answer.subarray(0, length));
      return { status: 'ok', data: new DataView(out.buffer) };
    }
    if (setup.requestType !== 'class') return { status: 'stall' };
    this.#classReady(setup);
    const r = this.#device.classIn(setup.request, setup.value, length);
    const data = r.status === 'ok' ? (r.data ?? new Uint8Array(0)) : undefined;
    await this.#pacer.transfer(data ? Math.min(length, data.length) : 0);
    this.#alive();
    if (!data) return { status: 'stall' };
    if (data.length > length) return { status: 'babble', data: new DataView(data.slice(0, length).buffer) };
    return { status: 'ok', data: new DataView(data.slice().buffer) };
  }

  async controlTransferOut(setup: UsbControlSetup, data?: BufferSource): Promise<UsbOutTransferResultLike> {
    this.#openFirst();
    const bytes = bytesOf(data);
    if (setup.requestType !== 'class') {
      await this.#pacer.transfer(bytes.length);
      return { status: 'stall', bytesWritten: 0 };
    }
    this.#classReady(setup);
    await this.#pacer.transfer(bytes.length);
    this.#alive();
    const r = this.#device.classOut(setup.request, setup.value, bytes);
    return r.status === 'ok' ? { status: 'ok', bytesWritten: bytes.length } : { status: 'stall', bytesWritten: 0 };
  }
}
