/**
 * The subset of the WebUSB `USBDevice` API our USB transport uses. The `usb` package's WebUSB devices
 * (`usb.WebUSBDevice`) and the in-process simulators (src/sim) both satisfy it, so the USB code path is tested
 * without hardware.
 */

export type UsbDirection = 'in' | 'out';
export type UsbEndpointType = 'bulk' | 'interrupt' | 'isochronous';
export type UsbTransferStatus = 'ok' | 'stall' | 'babble';

export interface UsbEndpointLike {
  readonly endpointNumber: number;
  readonly direction: UsbDirection;
  readonly type: UsbEndpointType;
  readonly packetSize: number;
}

export interface UsbAlternateInterfaceLike {
  readonly alternateSetting: number;
  readonly interfaceClass: number;
  readonly interfaceSubclass: number;
  readonly interfaceProtocol: number;
  readonly interfaceName?: string | null;
  readonly endpoints: readonly UsbEndpointLike[];
}

export interface UsbInterfaceLike {
  readonly interfaceNumber: number;
  readonly alternate: UsbAlternateInterfaceLike;
  readonly alternates: readonly UsbAlternateInterfaceLike[];
  readonly claimed: boolean;
}

export interface UsbConfigurationLike {
  readonly configurationValue: number;
  readonly interfaces: readonly UsbInterfaceLike[];
}

export interface UsbInTransferResultLike {
  readonly data?: DataView;
  readonly status: UsbTransferStatus;
}

export interface UsbOutTransferResultLike {
  readonly bytesWritten: number;
  readonly status: UsbTransferStatus;
}

/** WebUSB `USBControlTransferParameters`: the setup packet without wLength (given separately). */
export interface UsbControlSetup {
  readonly requestType: 'standard' | 'class' | 'vendor';
  readonly recipient: 'device' | 'interface' | 'endpoint' | 'other';
  readonly request: number;
  readonly value: number;
  readonly index: number;
}

export interface WebUsbDeviceLike {
  readonly vendorId: number;
  readonly productId: number;
  readonly manufacturerName?: string | null;
  readonly productName?: string | null;
  readonly serialNumber?: string | null;
  readonly opened: boolean;
  readonly configuration?: UsbConfigurationLike | null;
  readonly configurations: readonly UsbConfigurationLike[];
  open(): Promise<void>;
  close(): Promise<void>;
  selectConfiguration(configurationValue: number): Promise<void>;
  claimInterface(interfaceNumber: number): Promise<void>;
  releaseInterface(interfaceNumber: number): Promise<void>;
  /**
   * `timeout` (ms) is an extension of the `usb` package (its default is 1000 ms, too short for a device that is busy
   * writing flash); browsers and simulators may ignore it, so callers also enforce their own deadline.
   */
  transferIn(endpointNumber: number, length: number, timeout?: number): Promise<UsbInTransferResultLike>;
  transferOut(endpointNumber: number, data: BufferSource, timeout?: number): Promise<UsbOutTransferResultLike>;
  /** Control transfers on endpoint 0 (DFU). Optional: families on bulk endpoints and their simulators never need them. */
  controlTransferIn?(setup: UsbControlSetup, length: number): Promise<UsbInTransferResultLike>;
  controlTransferOut?(setup: UsbControlSetup, data?: BufferSource): Promise<UsbOutTransferResultLike>;
  selectAlternateInterface?(interfaceNumber: number, alternateSetting: number): Promise<void>;
  clearHalt?(direction: UsbDirection, endpointNumber: number): Promise<void>;
  reset?(): Promise<void>;
}
