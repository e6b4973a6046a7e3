// A Web Serial `SerialPort` for esptool-js in Node, over our stream Transport (serial port or in-station simulator).
import { FlashError, isFlashError } from '../../contracts/errors.js';
import type { SerialLineSettings, Transport } from '../../contracts/links.js';

export type TransportOpener = (settings: SerialLineSettings) => Promise<Transport>;

export interface WebSerialInfo {
  usbVendorId?: number;
  usbProductId?: number;
}

/** The Web Serial surface esptool-js uses: open/close, readable/writable, setSignals, getInfo, and setBaudRate. */
export class WebSerialPort {
  readable: ReadableStream<Uint8Array> | null = null;
  writable: WritableStream<Uint8Array> | null = null;
  private transport: Transport | undefined;
  private stopReads: AbortController | undefined;
  /** Set when the port has no modem lines (a pty): resets are skipped rather than failing the connection. */
  noModemLines = false;

  constructor(
    private readonly opener: TransportOpener,
    private readonly info: WebSerialInfo = {},
    /** A transport already open (the driver's own); `open()` then only sets the baud, `close()` leaves it open. */
    private readonly shared?: Transport,
  ) {}

  getInfo(): WebSerialInfo {
    return { ...this.info };
  }

  get current(): Transport | undefined {
    return this.transport;
  }

  async open(options: { baudRate: number }): Promise<void> {
    if (this.transport && !this.transport.closed) throw new DOMException('The port is already open.', 'InvalidStateError');
    const t = this.shared ?? (await this.opener({ baudRate: options.baudRate }));
    if (this.shared) await t.serial?.update({ baudRate: options.baudRate });
    this.transport = t;
    // Reads are pulled only when esptool-js asks (highWaterMark 0) and aborted when it cancels, so no byte is taken
    // by a stream nobody reads any more (the transport may outlive this port).
    const stop = new AbortController();
    this.stopReads = stop;
    this.readable = new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          try {
            const chunk = await t.read(0x10000, { timeoutMs: 0, signal: stop.signal });
            if (!stop.signal.aborted) controller.enqueue(chunk);
          } catch (e) {
            if (!stop.signal.aborted) controller.error(e);
          }
        },
        cancel: () => stop.abort(),
      },
      { highWaterMark: 0 },
    );
    this.writable = new WritableStream<Uint8Array>({ write: (chunk) => t.write(chunk) });
  }

  async setSignals(signals: { dataTerminalReady?: boolean; requestToSend?: boolean; break?: boolean }): Promise<void> {
    const t = this.need();
    if (!t.serial) return;
    try {
      await t.serial.setSignals({ dtr: signals.dataTerminalReady, rts: signals.requestToSend });
    } catch (e) {
      if (isFlashError(e) && e.code === 'unsupported') {
        this.noModemLines = true;
        return;
      }
      throw e;
    }
  }

  /** esptool-js changes the baud in place through this (its BaudRateConfigurablePort) instead of reopening. */
  async setBaudRate(baudRate: number): Promise<void> {
    const t = this.need();
    if (!t.serial) throw new FlashError('unsupported', 'This link cannot change its baud rate');
    await t.serial.update({ baudRate });
  }

  async close(): Promise<void> {
    const t = this.transport;
    this.transport = undefined;
    this.stopReads?.abort();
    this.readable = null;
    this.writable = null;
    if (t && !this.shared) await t.close();
  }

  private need(): Transport {
    const t = this.transport;
    if (!t || t.closed) throw new DOMException('The port is closed.', 'InvalidStateError');
    return t;
  }
}
