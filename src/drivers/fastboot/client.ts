// A fastboot protocol client over any Transport (like AOSP's fastboot_driver): commands, responses, downloads.
import type { Transport } from '../../contracts/links.js';
import { FlashError, isFlashError } from '../../contracts/errors.js';
import { RESPONSE_MAX, checkCommand, formatDownload, parseResponse, type FastbootResponse } from './protocol.js';
import { parseVarLines } from './variables.js';

export interface ClientOptions {
  /** Deadline for each response message, in ms (an INFO line restarts it). */
  timeoutMs: number;
  /** Longest command accepted (64 for bootloaders, 4096 for userspace fastbootd). */
  maxCommandLength?: number;
}

export type DeviceLogger = (level: 'info' | 'warn', text: string) => void;

/** Final answer of a command: OKAY with its value, or DATA with the byte count the device is ready for. */
export type FinalResponse = { kind: 'OKAY'; text: string } | { kind: 'DATA'; size: number };

export class FastbootClient {
  /** Where INFO and TEXT lines go (the running job's log, or nowhere while describing). */
  log: DeviceLogger = () => undefined;
  maxCommandLength: number;

  constructor(
    readonly transport: Transport,
    private readonly options: ClientOptions,
  ) {
    this.maxCommandLength = options.maxCommandLength ?? 4096;
  }

  get timeoutMs(): number {
    return this.options.timeoutMs;
  }

  /**
   * Sends a command and waits for OKAY/DATA; FAIL becomes a FlashError `device_rejected` with the device's message.
   * A command is never abandoned half-way (its late answer would be taken for the next command's): `signal` is only
   * checked before sending, and a silent device ends in `timeout`.
   */
  async send(command: string, options: { timeoutMs?: number; signal?: AbortSignal; info?: string[] } = {}): Promise<FinalResponse> {
    checkCommand(command, this.maxCommandLength);
    if (options.signal?.aborted) throw new FlashError('cancelled', 'Cancelled');
    await this.transport.write(new TextEncoder().encode(command));
    return this.response(command, options);
  }

  /** Reads INFO/TEXT lines until the final response of `command`. */
  async response(command: string, options: { timeoutMs?: number; signal?: AbortSignal; info?: string[] } = {}): Promise<FinalResponse> {
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs;
    for (;;) {
      let r: FastbootResponse;
      try {
        r = parseResponse(await this.transport.read(RESPONSE_MAX, { timeoutMs }));
      } catch (e) {
        throw annotate(e, `waiting for the answer to "${command}"`);
      }
      switch (r.kind) {
        case 'INFO':
          options.info?.push(r.text);
          this.log('info', r.text);
          break;
        case 'TEXT':
          this.log('info', r.text);
          break;
        case 'FAIL':
          throw new FlashError('device_rejected', `The device refused "${command}": ${r.text || '(no reason given)'}`);
        case 'OKAY':
          return r;
        case 'DATA':
          return r;
      }
    }
  }

  /** A command that must end in OKAY; returns its value. */
  async okay(command: string, options: { timeoutMs?: number; signal?: AbortSignal; info?: string[] } = {}): Promise<string> {
    const r = await this.send(command, options);
    if (r.kind !== 'OKAY') throw new FlashError('protocol_error', `The device answered "${command}" with DATA instead of OKAY`);
    return r.text;
  }

  /** `getvar:NAME`; undefined when the device does not know the variable (FAIL, or an empty OKAY from old devices). */
  async getvar(name: string, signal?: AbortSignal): Promise<string | undefined> {
    try {
      const v = await this.okay(`getvar:${name}`, { signal });
      return v === '' ? undefined : v;
    } catch (e) {
      if (isFlashError(e) && e.code === 'device_rejected') return undefined;
      throw e;
    }
  }

  /** `getvar:all` → every variable the device lists (empty when it does not support `all`). */
  async getvarAll(signal?: AbortSignal): Promise<Map<string, string>> {
    const info: string[] = [];
    const saved = this.log;
    this.log = () => undefined;
    try {
      await this.okay('getvar:all', { signal, info });
    } catch (e) {
      if (isFlashError(e) && e.code === 'device_rejected') return new Map();
      throw e;
    } finally {
      this.log = saved;
    }
    return parseVarLines(info);
  }

  /** `download:%08x` → the device must answer DATA with the same size. */
  async startDownload(size: number, signal?: AbortSignal): Promise<void> {
    const command = formatDownload(size);
    const r = await this.send(command, { signal });
    if (r.kind !== 'DATA') throw new FlashError('protocol_error', `The device answered "${command}" with OKAY instead of DATA`);
    if (r.size !== size) {
      throw new FlashError('protocol_error', `The device offered to take ${r.size} bytes after "${command}" (${size} asked)`);
    }
  }

  /** After the last byte of a download: drain the transport and wait for OKAY. */
  async finishDownload(size: number): Promise<void> {
    await this.transport.drain();
    const r = await this.response(formatDownload(size));
    if (r.kind !== 'OKAY') throw new FlashError('protocol_error', 'The device answered DATA at the end of a download');
  }

  /**
   * Reads `size` bytes the device sends after DATA (upload / fetch), then its OKAY. `sink` sees the bytes as they come.
   */
  async receiveData(command: string, size: number, sink: (bytes: Uint8Array) => void | Promise<void>, signal?: AbortSignal): Promise<void> {
    let got = 0;
    while (got < size) {
      const bytes = await this.transport.read(Math.min(size - got, 1 << 20), { timeoutMs: this.options.timeoutMs });
      if (bytes.length === 0) continue;
      got += bytes.length;
      await sink(bytes);
    }
    const r = await this.response(command, { signal });
    if (r.kind !== 'OKAY') throw new FlashError('protocol_error', `The device answered DATA at the end of "${command}"`);
  }

  /** `upload`: whatever the device staged (e.g. after an `oem` command). */
  async upload(signal?: AbortSignal): Promise<Uint8Array> {
    const r = await this.send('upload', { signal });
    if (r.kind !== 'DATA') throw new FlashError('protocol_error', 'The device answered "upload" without DATA');
    if (r.size === 0) throw new FlashError('device_rejected', 'The device has nothing to upload (0 bytes)');
    const out = new Uint8Array(r.size);
    let off = 0;
    await this.receiveData('upload', r.size, (b) => {
      out.set(b.subarray(0, out.length - off), off);
      off += b.length;
    }, signal);
    return out;
  }
}

/** Adds where it happened to an error's message, keeping its code and transience. */
export function annotate(e: unknown, where: string): FlashError {
  if (!isFlashError(e)) {
    const message = e instanceof Error ? e.message : String(e);
    return new FlashError('internal', `${message} — ${where}`, { cause: e });
  }
  if (e.code === 'cancelled' || e.message.includes(where)) return e;
  return new FlashError(e.code, `${e.message} — ${where}`, { transient: e.transient, cause: e });
}
