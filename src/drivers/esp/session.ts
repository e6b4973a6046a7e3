// One conversation with an ESP chip through esptool-js: reset into the ROM loader, sync, identify, stub, baud switch.
import { ESPLoader, Transport as EspTransport, type Before } from 'esptool-js';
import { FlashError, isFlashError } from '../../contracts/errors.js';
import type { Transport } from '../../contracts/links.js';
import { ESPRESSIF_VID, USB_JTAG_SERIAL_PID, flashSizeFromId } from './chips.js';
import { WebSerialPort } from './web-serial.js';

export type ResetMode = 'classic' | 'usb-jtag' | 'no_reset';

export interface SessionOptions {
  /** Baud for the transfer after the switch (default 921600); the ROM always starts at `romBaud` (115200). */
  baud?: number;
  romBaud?: number;
  /** How to enter the bootloader; default: USB-JTAG-serial's sequence on 303a:1001, the classic DTR/RTS one elsewhere. */
  reset?: ResetMode;
  /** Switch the baud while still in the ROM, so the stub uploads fast too (ESP32-family ROMs; default true). */
  romBaudSwitch?: boolean;
  /** Reset-and-sync rounds before giving up (each ~0.5–1 s; default 3). */
  attempts?: number;
  log?: (message: string) => void;
}

export interface EspSession {
  readonly loader: ESPLoader;
  readonly chipName: string;
  readonly flashId: number;
  readonly flashSize: number;
  readonly baud: number;
  /** Set while a step runs on the session; a failed step drops the session so the next one resets the chip. */
  broken: boolean;
  close(): Promise<void>;
}

/** esptool-js reports failures as plain Errors; turn them into ours, naming the port and what to do. */
export function espError(e: unknown, t: Transport, what: string): FlashError {
  if (isFlashError(e)) return e;
  if (t.closed) return new FlashError('disconnected', `The board went away while ${what}; check the cable, replug it and retry`, { transient: true, cause: e });
  const msg = e instanceof Error ? e.message : String(e);
  if (/timed? ?out|No serial data|stream stopped|did not complete in time/i.test(msg)) {
    return new FlashError('timeout', `The board stopped answering while ${what}; replug it (or press RESET) and retry`, { transient: true, cause: e, detail: msg });
  }
  if (/Failed to connect|Invalid head of packet|Wrong boot mode/i.test(msg)) {
    return new FlashError('device_rejected', `No Espressif bootloader answered while ${what}: hold BOOT (IO0) while pressing RESET, or check that this port is an ESP board`, {
      cause: e,
      detail: msg,
    });
  }
  return new FlashError('device_error', `The board refused ${what}: ${msg}`, { cause: e, detail: msg });
}

/** Reject when `signal` aborts, closing nothing itself: the caller closes the port so esptool-js stops too. */
function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined, onAbort: () => void): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) {
    onAbort();
    return Promise.reject(new FlashError('cancelled', 'Cancelled'));
  }
  return new Promise<T>((resolve, reject) => {
    const stop = (): void => {
      onAbort();
      reject(new FlashError('cancelled', 'Cancelled'));
    };
    signal.addEventListener('abort', stop, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', stop));
  });
}

export interface PortInfo {
  vendorId?: number;
  productId?: number;
}

/**
 * Connect over an open transport: reset and sync (bounded by `attempts`), identify the chip, run the stub, switch
 * the baud, read the flash id. The transport stays the caller's; `close()` only stops esptool-js's reader.
 */
export async function openSession(t: Transport, info: PortInfo, options: SessionOptions, signal?: AbortSignal): Promise<EspSession> {
  const romBaud = options.romBaud ?? 115200;
  const baud = options.baud ?? 921600;
  const port = new WebSerialPort(async () => t, { usbVendorId: info.vendorId, usbProductId: info.productId }, t);
  const transport = new EspTransport(port, false);
  // esptool-js prints some trace lines to the console whatever `tracing` says; the station logs its own.
  transport.trace = () => undefined;
  const log = options.log ?? (() => undefined);
  const terminal = { clean: () => undefined, writeLine: (s: string) => log(s), write: (s: string) => log(s) };
  const loader = new ESPLoader({ transport, baudrate: baud, romBaudrate: romBaud, terminal });
  const usbJtag = info.vendorId === ESPRESSIF_VID && info.productId === USB_JTAG_SERIAL_PID;
  const reset = options.reset ?? (usbJtag ? 'usb-jtag' : 'classic');
  const mode: Before = reset === 'no_reset' ? 'no_reset' : reset === 'usb-jtag' ? 'usb_reset' : 'default_reset';
  const stop = (): void => {
    void transport.disconnect().catch(() => undefined);
  };
  let what = 'connecting to its ROM bootloader';
  try {
    await abortable(loader.connect(mode, options.attempts ?? 3, true), signal, stop);
    const chipName = loader.chip.CHIP_NAME;
    log(`Connected to ${chipName}`);
    if (loader.chip.postConnect) await loader.chip.postConnect(loader);
    let switched = false;
    if ((options.romBaudSwitch ?? true) && baud !== romBaud && chipName !== 'ESP8266') {
      what = `switching to ${baud} baud`;
      await abortable(loader.changeBaud(), signal, stop);
      switched = loader.transport.baudrate === baud;
    }
    what = 'starting the flasher stub';
    await abortable(loader.runStub(), signal, stop);
    if (!switched && baud !== romBaud) {
      what = `switching to ${baud} baud`;
      await abortable(loader.changeBaud(), signal, stop);
    }
    what = 'reading the flash id';
    const flashId = (await abortable(loader.readFlashId(), signal, stop)) >>> 0;
    const flashSize = flashSizeFromId(flashId);
    if (flashSize === undefined) {
      throw new FlashError('device_error', `The ${chipName} reports no usable SPI flash (id 0x${flashId.toString(16)}); check the flash chip's wiring`);
    }
    return {
      loader,
      chipName,
      flashId,
      flashSize,
      baud: loader.transport.baudrate,
      broken: false,
      close: () => transport.disconnect().catch(() => undefined),
    };
  } catch (e) {
    stop();
    throw espError(e, t, what);
  }
}
