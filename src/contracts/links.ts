/**
 * How a driver reaches its device, by kind of link: a byte stream (TCP, UDP, USB bulk, serial), USB control
 * transfers (DFU), or positional block I/O (SD cards, USB sticks). A family says which kind it needs; the provider
 * that found the device hands out that kind. Framing that belongs to one family (a handshake, SLIP) lives
 * with that family, not here.
 */
import type { DeviceTransport } from '../protocol/messages.js';
import type { WebUsbDeviceLike } from './webusb.js';

// ---------------------------------------------------------------- stream

/** A byte pipe to one device, used message-wise (one response per read) or byte-wise (serial protocols). */
export interface Transport {
  readonly kind: DeviceTransport;
  readonly closed: boolean;
  /**
   * Send bytes. Resolves once the transport has accepted them; several writes may be in flight. `sent`, when given,
   * is called once the transport refers to `data` no more (handed to the OS, the transfer ended, or the write
   * failed), so the caller may refill its buffer; a transport that does not call it leaves the buffer to the caller's
   * garbage collector (a buffer pool then simply does not reuse it).
   */
  write(data: Uint8Array, signal?: AbortSignal, sent?: () => void): Promise<void>;
  /** Resolves when every accepted write has reached the device. */
  drain(signal?: AbortSignal): Promise<void>;
  /** Read one packet/message of at most `maxLength` bytes. Rejects with FlashError code `timeout` after `timeoutMs`. */
  read(maxLength: number, options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<Uint8Array>;
  close(): Promise<void>;
  /** Present on serial ports: line settings and modem lines. */
  readonly serial?: SerialControl;
}

export type Parity = 'none' | 'even' | 'odd';

export interface SerialLineSettings {
  baudRate: number;
  dataBits?: 7 | 8;
  parity?: Parity;
  stopBits?: 1 | 2;
}

/** Modem-control lines; an omitted line keeps its level (never defaults to asserted). */
export interface SerialSignals {
  dtr?: boolean;
  rts?: boolean;
}

export interface SerialControl {
  readonly path: string;
  readonly settings: Readonly<SerialLineSettings>;
  /** Change baud/parity on the open port. Resolves once the new settings are in force. */
  update(settings: Partial<SerialLineSettings>): Promise<void>;
  setSignals(signals: SerialSignals): Promise<void>;
  /** Drop bytes received but not yet read (and, where the OS allows, bytes not yet sent). */
  flush(): Promise<void>;
}

/** How a stream driver reaches its device; `open()` (re)connects and returns the live transport. */
export interface DeviceLink {
  readonly kind?: 'stream';
  open(signal?: AbortSignal): Promise<Transport>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------- usb control

/** A USB device a family drives itself (control transfers, alt settings): DFU. */
export interface UsbLink {
  readonly kind: 'usb';
  /** The device, opened and configured; the family claims interfaces and selects alternates itself. */
  open(signal?: AbortSignal): Promise<WebUsbDeviceLike>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------- block

/** Positional I/O on one block device (or a file standing in for one). Offsets and lengths are in bytes. */
export interface BlockIo {
  readonly path: string;
  /** Capacity in bytes. */
  readonly size: number;
  /** Logical sector size: O_DIRECT offsets, lengths and buffers are multiples of it. */
  readonly sectorSize: number;
  /** True when opened with O_DIRECT (buffers must then be aligned; allocate them with `alloc`). */
  readonly direct: boolean;
  /** A buffer aligned for this device's direct I/O. */
  alloc(length: number): Uint8Array;
  write(offset: number, data: Uint8Array, signal?: AbortSignal): Promise<void>;
  read(offset: number, into: Uint8Array, signal?: AbortSignal): Promise<number>;
  /** fsync: every accepted write is on the medium. */
  sync(): Promise<void>;
  /** Ask the kernel to reread the partition table (BLKRRPART); false where the platform cannot. */
  rereadPartitions(): Promise<boolean>;
  close(): Promise<void>;
}

export interface BlockLink {
  readonly kind: 'block';
  open(options: { write: boolean; direct?: boolean; exclusive?: boolean }, signal?: AbortSignal): Promise<BlockIo>;
  close(): Promise<void>;
}

/** Any link a provider hands to a family. Stream links may omit `kind` (the first ones predate it). */
export type Link = DeviceLink | UsbLink | BlockLink;

export function isUsbLink(link: Link): link is UsbLink {
  return link.kind === 'usb';
}

export function isBlockLink(link: Link): link is BlockLink {
  return link.kind === 'block';
}

export function isStreamLink(link: Link): link is DeviceLink {
  return link.kind === undefined || link.kind === 'stream';
}
