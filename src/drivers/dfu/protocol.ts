// DFU 1.1 class requests on one interface (DETACH … ABORT), GETSTATUS parsing, polling that honours bwPollTimeout to
// the fraction of a millisecond, and the recoveries (CLRSTATUS from dfuERROR, ABORT back to dfuIDLE).
import { FlashError } from '../../contracts/errors.js';
import { isStall, type UsbControl } from '../../transports/usb-control.js';

export const REQ = { DETACH: 0, DNLOAD: 1, UPLOAD: 2, GETSTATUS: 3, CLRSTATUS: 4, GETSTATE: 5, ABORT: 6 } as const;
export const STATE = { appIDLE: 0, appDETACH: 1, dfuIDLE: 2, dnloadSync: 3, dnBusy: 4, dnloadIdle: 5, manifestSync: 6,
  manifest: 7, manifestWaitReset: 8, uploadIdle: 9, dfuError: 10 } as const;
export const STATE_NAMES = ['appIDLE', 'appDETACH', 'dfuIDLE', 'dfuDNLOAD-SYNC', 'dfuDNBUSY', 'dfuDNLOAD-IDLE',
  'dfuMANIFEST-SYNC', 'dfuMANIFEST', 'dfuMANIFEST-WAIT-RESET', 'dfuUPLOAD-IDLE', 'dfuERROR'];
export const STATUS_NAMES = ['OK', 'errTARGET', 'errFILE', 'errWRITE', 'errERASE', 'errCHECK_ERASED', 'errPROG',
  'errVERIFY', 'errADDRESS', 'errNOTDONE', 'errFIRMWARE', 'errVENDOR', 'errUSBR', 'errPOR', 'errUNKNOWN', 'errSTALLEDPKT'];
export const ERR_VENDOR = 11;

export interface DfuStatus {
  status: number;
  pollTimeout: number;
  state: number;
}

export function stateName(s: number): string {
  return STATE_NAMES[s] ?? `state ${s}`;
}

export function statusName(s: number): string {
  return STATUS_NAMES[s] ?? `status ${s}`;
}

export function parseStatus(b: Uint8Array): DfuStatus {
  if (b.length < 6) throw new FlashError('protocol_error', `DFU GETSTATUS answered ${b.length} bytes instead of 6`, { transient: true });
  return { status: b[0]!, pollTimeout: b[1]! | (b[2]! << 8) | (b[3]! << 16), state: b[4]! };
}

/** Waits `ms` (from a GETSTATUS answer) as exactly as the event loop allows, never less; cancellable. */
export async function pollWait(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0) return;
  const until = performance.now() + ms;
  let left = ms;
  if (left > 2) {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(done, left - 1.5);
      function done(): void {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }
      function onAbort(): void {
        clearTimeout(t);
        reject(new FlashError('cancelled', 'Cancelled'));
      }
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
  left = until - performance.now();
  while (left > 0) {
    await new Promise<void>((r) => setImmediate(r));
    left = until - performance.now();
  }
  if (signal?.aborted) throw new FlashError('cancelled', 'Cancelled');
}

/** A device error from a GETSTATUS in dfuERROR; `detail` carries `dfu status errWRITE`. */
export function statusError(label: string, st: DfuStatus, what: string): FlashError {
  const name = statusName(st.status);
  if (st.status === ERR_VENDOR) {
    return new FlashError(
      'device_rejected',
      `${label} refused ${what}: the part is read-protected (${name}). Remove the protection (flash-station command ` +
        '"unprotect" mass-erases the chip) or use the vendor tool, then retry.',
      { detail: `dfu status ${name}` },
    );
  }
  return new FlashError('device_error', `${label} failed ${what} (${name}, state ${stateName(st.state)})`, {
    detail: `dfu status ${name}`,
    transient: true,
  });
}

/** The DFU requests of one interface of one open device. */
export class DfuRequests {
  readonly control: UsbControl;
  readonly interfaceNumber: number;
  /** Largest wait we accept from bwPollTimeout: a corrupt value must not hang a job for hours. */
  maxPollMs = 60_000;

  constructor(control: UsbControl, interfaceNumber: number) {
    this.control = control;
    this.interfaceNumber = interfaceNumber;
  }

  get label(): string {
    return this.control.label;
  }

  #setup(request: number, value = 0): { requestType: 'class'; recipient: 'interface'; request: number; value: number; index: number } {
    return { requestType: 'class', recipient: 'interface', request, value, index: this.interfaceNumber };
  }

  detach(timeoutMs: number, signal?: AbortSignal): Promise<number> {
    return this.control.out(this.#setup(REQ.DETACH, Math.min(0xffff, timeoutMs)), undefined, { what: 'DFU DETACH', signal });
  }

  dnload(block: number, data: Uint8Array, signal?: AbortSignal): Promise<number> {
    return this.control.out(this.#setup(REQ.DNLOAD, block & 0xffff), data, { what: `DFU DNLOAD block ${block}`, signal });
  }

  upload(block: number, length: number, signal?: AbortSignal): Promise<Uint8Array> {
    return this.control.in(this.#setup(REQ.UPLOAD, block & 0xffff), length, { what: `DFU UPLOAD block ${block}`, signal });
  }

  async getStatus(signal?: AbortSignal): Promise<DfuStatus> {
    return parseStatus(await this.control.in(this.#setup(REQ.GETSTATUS), 6, { what: 'DFU GETSTATUS', signal }));
  }

  async getState(signal?: AbortSignal): Promise<number> {
    const b = await this.control.in(this.#setup(REQ.GETSTATE), 1, { what: 'DFU GETSTATE', signal });
    if (b.length < 1) throw new FlashError('protocol_error', `${this.label} answered DFU GETSTATE with no byte`, { transient: true });
    return b[0]!;
  }

  clrStatus(signal?: AbortSignal): Promise<number> {
    return this.control.out(this.#setup(REQ.CLRSTATUS), undefined, { what: 'DFU CLRSTATUS', signal });
  }

  abort(signal?: AbortSignal): Promise<number> {
    return this.control.out(this.#setup(REQ.ABORT), undefined, { what: 'DFU ABORT', signal });
  }

  /** GETSTATUS until the device leaves `busy` states, waiting bwPollTimeout between polls. */
  async pollWhile(busy: (state: number) => boolean, signal?: AbortSignal): Promise<DfuStatus> {
    for (;;) {
      const st = await this.getStatus(signal);
      if (!busy(st.state) || st.state === STATE.dfuError) return st;
      await pollWait(Math.min(st.pollTimeout, this.maxPollMs), signal);
    }
  }

  /** After a DNLOAD: poll until dfuDNLOAD-IDLE (or an error, which the caller reads from the status). */
  pollBlock(signal?: AbortSignal): Promise<DfuStatus> {
    return this.pollWhile((s) => s === STATE.dnBusy || s === STATE.dnloadSync, signal);
  }

  /**
   * Brings the interface to dfuIDLE from wherever it is: CLRSTATUS from dfuERROR, ABORT from the idle/sync states.
   * Never waits on the signal: it is what a cancel runs to leave the device responsive.
   */
  async toIdle(): Promise<DfuStatus> {
    for (let i = 0; i < 4; i++) {
      let st: DfuStatus;
      try {
        st = await this.getStatus();
      } catch (e) {
        if (!isStall(e)) throw e;
        continue; // the stall itself put the device in dfuERROR: the next GETSTATUS says so
      }
      if (st.state === STATE.dfuIDLE) return st;
      if (st.state === STATE.dfuError) await this.clrStatus();
      else if (st.state === STATE.dnBusy || st.state === STATE.manifest) await pollWait(Math.min(st.pollTimeout, this.maxPollMs));
      else await this.abort().catch((e: unknown) => {
        if (!isStall(e)) throw e;
      });
    }
    const st = await this.getStatus();
    if (st.state !== STATE.dfuIDLE) {
      throw new FlashError('device_error', `${this.label} stays in ${stateName(st.state)} (${statusName(st.status)}) — replug it and retry`, {
        transient: true,
      });
    }
    return st;
  }
}
