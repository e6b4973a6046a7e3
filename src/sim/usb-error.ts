// Errors of the simulators' WebUSB faces, shaped like WebUSB's: `name` carries the DOMException name the USB transport
// maps (NotFoundError: unplugged; InvalidStateError: not opened or claimed; NetworkError: a stall; …). One class for
// every family's face.
export type WebUsbErrorName = 'NotFoundError' | 'InvalidStateError' | 'NetworkError' | 'AbortError' | 'TimeoutError';

export class UsbSimError extends Error {
  constructor(name: WebUsbErrorName, message: string) {
    super(message);
    this.name = name;
  }
}
