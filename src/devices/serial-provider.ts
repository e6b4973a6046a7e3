// Serial ports as candidates: USB-UART bridges and chips' native USB by VID:PID (polled hot-plug), plus explicit ports.
import { existsSync } from 'node:fs';
import { SerialPort } from 'serialport';
import { FlashError } from '../contracts/errors.js';
import type { Candidate, SerialCandidate } from '../contracts/family.js';
import type { CandidateProvider, CandidateSink } from '../contracts/provider.js';
import type { DeviceProtocol } from '../protocol/messages.js';

export type { CandidateProvider, CandidateSink };

/** USB VID:PID pairs of USB-UART bridges and chips' native USB serial: the only listed ports ever probed. */
export const KNOWN_SERIAL_USB_IDS: ReadonlyMap<string, string> = new Map([
  ['10c4:ea60', 'Silicon Labs CP210x'],
  ['10c4:ea70', 'Silicon Labs CP2105'],
  ['10c4:ea71', 'Silicon Labs CP2108'],
  ['1a86:7523', 'WCH CH340'],
  ['1a86:5523', 'WCH CH341'],
  ['1a86:55d3', 'WCH CH343'],
  ['1a86:55d4', 'WCH CH9102'],
  ['1a86:55d2', 'WCH CH342'],
  ['0403:6001', 'FTDI FT232R'],
  ['0403:6010', 'FTDI FT2232'],
  ['0403:6011', 'FTDI FT4232'],
  ['0403:6014', 'FTDI FT232H'],
  ['0403:6015', 'FTDI FT-X'],
  ['303a:1001', 'Espressif USB-JTAG-serial'],
  ['303a:0002', 'Espressif ESP32-S2 USB CDC'],
  ['303a:0009', 'Espressif ESP32-S3 USB CDC'],
  ['303a:1002', 'Espressif USB-JTAG-serial (ROM)'],
  ['0483:374b', 'ST-Link/V2-1 VCP'],
  ['0483:374e', 'ST-Link/V3 VCP'],
  ['0483:374f', 'ST-Link/V3 VCP'],
  ['0483:3752', 'ST-Link/V2-1 VCP'],
  ['0483:3753', 'ST-Link/V3 VCP'],
  ['0483:3754', 'ST-Link/V3 VCP'],
  ['0483:5740', 'STM32 USB CDC'],
  ['067b:2303', 'Prolific PL2303'],
  ['067b:23a3', 'Prolific PL2303GC'],
]);

export function usbIdKey(vendorId: number, productId: number): string {
  return `${vendorId.toString(16).padStart(4, '0')}:${productId.toString(16).padStart(4, '0')}`;
}

/** The bridge's name when VID:PID is on the allow-list, else undefined (the port is never touched). */
export function knownBridge(vendorId: number | undefined, productId: number | undefined): string | undefined {
  if (vendorId === undefined || productId === undefined) return undefined;
  return KNOWN_SERIAL_USB_IDS.get(usbIdKey(vendorId, productId));
}

/** One `--serial-port PATH[?protocol=esp|stm32&baud=N]`. */
export interface SerialPortSpec {
  path: string;
  protocol?: DeviceProtocol;
  baudRate?: number;
}

const SERIAL_PROTOCOLS: readonly DeviceProtocol[] = ['esp', 'stm32'];

export function parseSerialPortSpec(spec: string): SerialPortSpec {
  const q = spec.indexOf('?');
  const path = q < 0 ? spec : spec.slice(0, q);
  if (!path) throw new FlashError('bad_request', `--serial-port ${JSON.stringify(spec)}: give a port path, e.g. /dev/ttyUSB0 or /dev/pts/3`);
  const out: SerialPortSpec = { path };
  if (q < 0) return out;
  for (const [key, value] of new URLSearchParams(spec.slice(q + 1))) {
    if (key === 'protocol') {
      if (!(SERIAL_PROTOCOLS as readonly string[]).includes(value)) {
        throw new FlashError('bad_request', `--serial-port ${path}: protocol must be one of ${SERIAL_PROTOCOLS.join(', ')}, not ${JSON.stringify(value)}`);
      }
      out.protocol = value as DeviceProtocol;
    } else if (key === 'baud') {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 300 || n > 12_000_000) {
        throw new FlashError('bad_request', `--serial-port ${path}: baud must be a whole number from 300 to 12000000, not ${JSON.stringify(value)}`);
      }
      out.baudRate = n;
    } else {
      throw new FlashError('bad_request', `--serial-port ${path}: unknown key ${JSON.stringify(key)} (it takes protocol and baud)`);
    }
  }
  return out;
}

/** What `SerialPort.list()` reports for one port (hex strings without 0x). */
export interface ListedPort {
  path: string;
  manufacturer?: string | undefined;
  serialNumber?: string | undefined;
  vendorId?: string | undefined;
  productId?: string | undefined;
}

export interface SerialProviderOptions {
  /** `--serial-port` specs, offered whatever their VID:PID. */
  ports?: readonly string[];
  /** List and offer known bridges (false with `--no-serial`). */
  discover?: boolean;
  /** Poll interval for hot-plug, in ms (default 1500). */
  pollMs?: number;
  /** Port lister (default `SerialPort.list`, which asks udev on Linux). */
  list?: () => Promise<ListedPort[]>;
  /** Whether an explicit path is present (default: it exists in the file system). */
  exists?: (path: string) => boolean;
  onError?: (message: string) => void;
}

function hex(value: string | undefined): number | undefined {
  if (value === undefined || !/^(0x)?[0-9a-f]{1,4}$/i.test(value)) return undefined;
  return parseInt(value.replace(/^0x/i, ''), 16);
}

/** A listed port as a candidate, or undefined when it is not a known bridge (and so never touched). */
export function candidateFromListing(p: ListedPort): SerialCandidate | undefined {
  const vendorId = hex(p.vendorId);
  const productId = hex(p.productId);
  const bridge = knownBridge(vendorId, productId);
  if (!bridge) return undefined;
  return {
    kind: 'serial',
    key: p.path,
    transport: 'serial',
    path: p.path,
    port: p.path,
    vendorId,
    productId,
    manufacturer: p.manufacturer ?? bridge,
    ...(p.serialNumber ? { serial: p.serialNumber } : {}),
  };
}

export function candidateFromSpec(spec: SerialPortSpec): SerialCandidate {
  return {
    kind: 'serial',
    key: spec.path,
    transport: 'serial',
    path: spec.path,
    port: spec.path,
    ...(spec.protocol ? { protocol: spec.protocol } : {}),
    ...(spec.baudRate ? { baudRate: spec.baudRate } : {}),
  };
}

export function createSerialProvider(options: SerialProviderOptions = {}): CandidateProvider {
  const explicit = (options.ports ?? []).map(parseSerialPortSpec);
  const explicitPaths = new Set(explicit.map((s) => s.path));
  const discover = options.discover ?? true;
  const pollMs = options.pollMs ?? 1500;
  // serialport's PortInfo is what ListedPort names; its declaration does not resolve here, so the list types as any[].
  const list = options.list ?? ((): Promise<ListedPort[]> => SerialPort.list() as Promise<ListedPort[]>);
  const exists = options.exists ?? existsSync;
  const offered = new Set<string>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  let listFailed = false;

  const scan = async (sink: CandidateSink): Promise<void> => {
    const now = new Map<string, Candidate>();
    /** Keys kept although not listed this time (the lister failed): no detach storm while udev hiccups. */
    const kept = new Set<string>();
    for (const spec of explicit) if (exists(spec.path)) now.set(spec.path, candidateFromSpec(spec));
    if (discover) {
      try {
        for (const p of await list()) {
          if (explicitPaths.has(p.path)) continue;
          const c = candidateFromListing(p);
          if (c) now.set(c.key, c);
        }
        listFailed = false;
      } catch (e) {
        if (!listFailed) options.onError?.(`Serial ports could not be listed: ${e instanceof Error ? e.message : String(e)}`);
        listFailed = true;
        for (const key of offered) if (!explicitPaths.has(key)) kept.add(key);
      }
    }
    if (stopped) return;
    for (const key of [...offered]) {
      if (!now.has(key) && !kept.has(key)) {
        offered.delete(key);
        sink.withdraw(key);
      }
    }
    for (const [key, c] of now) {
      if (offered.has(key)) continue;
      offered.add(key);
      sink.offer(c);
    }
  };

  return {
    name: 'serial',
    async start(sink: CandidateSink): Promise<void> {
      if (!discover && explicit.length === 0) return;
      const loop = (): void => {
        timer = setTimeout(() => {
          running = scan(sink).finally(() => {
            if (!stopped) loop();
          });
        }, pollMs);
        timer.unref?.();
      };
      running = scan(sink);
      await running;
      if (!stopped) loop();
    },
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running.catch(() => undefined);
    },
  };
}
