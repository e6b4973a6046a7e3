// A simulated USB DFU 1.1 / DfuSe device: the DFU state machine request by request (stalls go to dfuERROR with
// errSTALLEDPKT), bwPollTimeout from modelled flash times, manifestation (tolerant, or wait-for-reset and re-enumerate),
// runtime mode and DETACH, DfuSe SET_ADDRESS / page and mass erase / read-unprotect, read protection, and the faults.
import type { SimFaults } from '../../contracts/simulator.js';
import { DFUSE_BASE, type DfuSimConfig } from './config.js';
import { FlashStore } from './flash-store.js';

export const S = { appIDLE: 0, appDETACH: 1, dfuIDLE: 2, dnloadSync: 3, dnBusy: 4, dnloadIdle: 5, manifestSync: 6,
  manifest: 7, manifestWaitReset: 8, uploadIdle: 9, dfuError: 10 } as const;
export const E = { OK: 0, errTARGET: 1, errFILE: 2, errWRITE: 3, errERASE: 4, errCHECK_ERASED: 5, errPROG: 6,
  errVERIFY: 7, errADDRESS: 8, errNOTDONE: 9, errFIRMWARE: 10, errVENDOR: 11, errUSBR: 12, errPOR: 13,
  errUNKNOWN: 14, errSTALLEDPKT: 15 } as const;

export type ControlAnswer = { status: 'ok'; data?: Uint8Array } | { status: 'stall' };
export type SimMode = 'runtime' | 'dfu';

const STALL: ControlAnswer = { status: 'stall' };
const OK: ControlAnswer = { status: 'ok' };
/** How long the device is off the bus when it re-enumerates (detach, reset, leave). */
const REENUMERATE_MS = 30;
const REPLUG_MS = 300;
const ABORTABLE = new Set<number>([S.dfuIDLE, S.dnloadSync, S.dnloadIdle, S.manifestSync, S.uploadIdle]);

interface Sector {
  start: number;
  size: number;
}

/** One pending DNLOAD block, executed at the GETSTATUS that follows it (dfuDNLOAD-SYNC). */
interface Pending {
  block: number;
  data: Uint8Array;
}

export class DfuSimDevice {
  readonly config: DfuSimConfig;
  readonly flash: FlashStore;
  readonly sectors: Sector[] = [];
  mode: SimMode;
  present = true;
  /** Bumped on every re-enumeration: a WebUSB face of an older generation is an unplugged device. */
  generation = 0;
  state: number;
  status: number = E.OK;
  alt = 0;
  readProtected: boolean;
  /** Log of requests for tests: `DNLOAD 2 2048`, `GETSTATUS`, `stall DNLOAD in 4`. */
  readonly log: string[] = [];
  #faults: SimFaults;
  #pointer = DFUSE_BASE;
  #pending: Pending | undefined;
  #busyUntil = 0;
  #pollMs = 0;
  #afterBusy: number = S.dnloadSync;
  #written = 0;
  #uploaded = 0;
  #received = 0;
  #stallFired = false;
  #disconnectFired = false;
  #leaving = false;
  /** A disconnect fault fired: the device answers nothing more (even a request that beats the unplug timer). */
  #unplugging = false;
  #listeners = new Set<(present: boolean) => void>();
  #timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(config: DfuSimConfig, storeDir: string, faults: SimFaults = {}) {
    this.config = config;
    this.flash = new FlashStore(storeDir, config.flashSize);
    this.#faults = faults;
    this.readProtected = config.readProtected;
    let at = DFUSE_BASE;
    for (const run of config.sectors) {
      for (let i = 0; i < run.count; i++, at += run.size) this.sectors.push({ start: at, size: run.size });
    }
    this.mode = config.runtime ? 'runtime' : 'dfu';
    this.state = config.runtime ? S.appIDLE : S.dfuIDLE;
  }

  /** Bytes of DNLOAD data the device has taken (for the fault keys). */
  get received(): number {
    return this.#received;
  }

  onPresence(listener: (present: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    this.#timers.add(t);
  }

  /** Leaves the bus and comes back after `ms` in `mode` (a fresh enumeration: new generation, fresh state). */
  reenumerate(mode: SimMode, ms = REENUMERATE_MS): void {
    if (!this.present) return;
    this.present = false;
    this.generation++;
    this.log.push(`reenumerate ${mode}`);
    for (const l of this.#listeners) l(false);
    this.#later(ms, () => {
      this.mode = mode;
      this.state = mode === 'dfu' ? S.dfuIDLE : S.appIDLE;
      this.status = E.OK;
      this.alt = 0;
      this.#pending = undefined;
      this.#leaving = false;
      this.#unplugging = false;
      this.present = true;
      for (const l of this.#listeners) l(true);
    });
  }

  /** A USB bus reset from the host. */
  usbReset(): void {
    if (this.mode === 'runtime') {
      this.reenumerate(this.state === S.appDETACH ? 'dfu' : 'runtime');
      return;
    }
    // DFU mode: the firmware is taken as valid, so the device starts its application (runtime mode).
    this.reenumerate('runtime');
  }

  selectAlt(alt: number): boolean {
    if (alt < 0 || alt >= this.config.alts.length) return false;
    this.alt = alt;
    this.#written = 0;
    this.#uploaded = 0;
    return true;
  }

  #stall(what: string): ControlAnswer {
    this.log.push(`stall ${what} in ${this.state}`);
    if (this.mode === 'dfu' && this.state !== S.manifestWaitReset) {
      this.state = S.dfuError;
      this.status = E.errSTALLEDPKT;
    }
    return STALL;
  }

  #fail(status: number): void {
    this.state = S.dfuError;
    this.status = status;
  }

  /** A pending fault unplug happens now, before the request is answered (the face then reports the device gone). */
  #unplug(): boolean {
    if (!this.#unplugging) return false;
    this.#unplugging = false;
    this.reenumerate('dfu', REPLUG_MS);
    return true;
  }

  /** Advances timed states: the poll timeout of a busy block or of manifestation has elapsed. */
  #tick(now: number): void {
    if (now < this.#busyUntil) return;
    if (this.state === S.dnBusy) this.state = this.#afterBusy;
    else if (this.state === S.manifest) {
      if (this.#leaving) return;
      this.state = this.config.manifestationTolerant ? S.manifestSync : S.manifestWaitReset;
      if (!this.config.manifestationTolerant) this.log.push('manifest wait-reset');
    }
  }

  /** A class request with host-to-device direction (DETACH, DNLOAD, CLRSTATUS, ABORT). */
  classOut(request: number, value: number, data: Uint8Array): ControlAnswer {
    if (this.#unplug()) return STALL;
    const now = performance.now();
    this.#tick(now);
    const name = ['DETACH', 'DNLOAD', 'UPLOAD', 'GETSTATUS', 'CLRSTATUS', 'GETSTATE', 'ABORT'][request] ?? `REQ${request}`;
    this.log.push(request === 1 ? `DNLOAD ${value} ${data.length}` : name);
    if (this.mode === 'runtime') {
      if (request === 0 && this.state === S.appIDLE && this.#faults.failCommand !== 'detach') {
        this.state = S.appDETACH;
        if (this.config.willDetach) this.#later(5, () => this.reenumerate('dfu'));
        else this.#later(Math.max(1, Math.min(value, 1000)), () => {
          if (this.present && this.state === S.appDETACH) this.state = S.appIDLE;
        });
        return OK;
      }
      return this.#stall(name);
    }
    if (this.state === S.dnBusy || this.state === S.manifest || this.state === S.manifestWaitReset) return this.#stall(name);
    switch (request) {
      case 1:
        return this.#dnload(value, data);
      case 4:
        if (this.state !== S.dfuError) return this.#stall(name);
        this.state = S.dfuIDLE;
        this.status = E.OK;
        return OK;
      case 6:
        if (!ABORTABLE.has(this.state)) return this.#stall(name);
        this.state = S.dfuIDLE;
        this.#pending = undefined;
        this.#written = 0;
        this.#uploaded = 0;
        return OK;
      default:
        return this.#stall(name);
    }
  }

  #dnload(block: number, data: Uint8Array): ControlAnswer {
    if (this.state !== S.dfuIDLE && this.state !== S.dnloadIdle) return this.#stall('DNLOAD');
    if (data.length === 0) {
      // The zero-length DNLOAD ends the download (DfuSe: "leave DFU" after SET_ADDRESS, also from dfuIDLE).
      if (this.state === S.dfuIDLE && !this.config.dfuse) return this.#stall('DNLOAD');
      this.state = S.manifestSync;
      return OK;
    }
    if (data.length > this.config.transferSize) return this.#stall('DNLOAD');
    if (this.state === S.dfuIDLE) {
      this.#written = 0;
    }
    if (this.#faults.stallAfter !== undefined && !this.#stallFired && this.#received + data.length > this.#faults.stallAfter) {
      this.#stallFired = true;
      return this.#stall('DNLOAD (stall-after)');
    }
    this.#pending = { block, data: new Uint8Array(data) };
    this.state = S.dnloadSync;
    return OK;
  }

  /** A class request with device-to-host direction (UPLOAD, GETSTATUS, GETSTATE). */
  classIn(request: number, value: number, length: number): ControlAnswer {
    if (this.#unplug()) return STALL;
    const now = performance.now();
    this.#tick(now);
    if (request !== 3) this.log.push(request === 2 ? `UPLOAD ${value} ${length}` : request === 5 ? 'GETSTATE' : `REQ${request}`);
    if (this.mode === 'runtime') {
      if (request === 3) return { status: 'ok', data: this.#statusBytes(0) };
      if (request === 5) return { status: 'ok', data: Uint8Array.of(this.state) };
      return this.#stall(`REQ${request}`);
    }
    if (this.state === S.manifestWaitReset && request === 3) return { status: 'ok', data: this.#statusBytes(0) };
    if (this.state === S.dnBusy || this.state === S.manifestWaitReset || (this.state === S.manifest && !this.#leaving)) {
      return this.#stall(`REQ${request}`);
    }
    switch (request) {
      case 3:
        return { status: 'ok', data: this.#getStatus(now) };
      case 5:
        return { status: 'ok', data: Uint8Array.of(this.state) };
      case 2:
        return this.#upload(value, length);
      default:
        return this.#stall(`REQ${request}`);
    }
  }

  #statusBytes(pollMs: number): Uint8Array {
    const p = Math.max(0, Math.min(0xffffff, Math.ceil(pollMs)));
    return Uint8Array.of(this.status, p & 0xff, (p >> 8) & 0xff, (p >> 16) & 0xff, this.state, 0);
  }

  /** GETSTATUS: where the device acts on a pending block or starts manifestation. */
  #getStatus(now: number): Uint8Array {
    if (this.state === S.dnloadSync) {
      const pending = this.#pending;
      this.#pending = undefined;
      if (!pending) {
        this.state = S.dnloadIdle;
        return this.#statusBytes(0);
      }
      const work = this.#execute(pending);
      if (work === undefined) return this.#statusBytes(0); // failed: dfuERROR with its status
      this.#pollMs = work;
      this.#busyUntil = now + work;
      this.#afterBusy = S.dnloadSync;
      this.state = S.dnBusy;
      return this.#statusBytes(work);
    }
    if (this.state === S.manifestSync) {
      if (this.#afterManifest) {
        this.#afterManifest = false;
        this.state = S.dfuIDLE;
        return this.#statusBytes(0);
      }
      return this.#startManifest(now);
    }
    return this.#statusBytes(this.state === S.dnBusy ? this.#pollMs : 0);
  }

  #afterManifest = false;

  #startManifest(now: number): Uint8Array {
    if (this.#faults.disconnectAfter !== undefined && !this.#disconnectFired && this.#received >= this.#faults.disconnectAfter) {
      this.#disconnectFired = true;
      this.state = S.manifest;
      const answer = this.#statusBytes(this.config.manifestMs);
      this.#unplugging = true;
      this.#later(0, () => this.reenumerate('dfu', REPLUG_MS));
      return answer;
    }
    if (this.#faults.failCommand === 'manifest') {
      this.#fail(E.errFIRMWARE);
      return this.#statusBytes(0);
    }
    this.state = S.manifest;
    this.#busyUntil = now + this.config.manifestMs;
    if (this.config.dfuse) {
      // DfuSe "leave": the bootloader answers dfuMANIFEST, then jumps to the application.
      this.#leaving = true;
      this.log.push('leave');
      this.#later(Math.max(1, this.config.manifestMs), () => this.reenumerate('runtime'));
    } else if (this.config.manifestationTolerant) {
      this.#afterManifest = true;
    }
    return this.#statusBytes(this.config.manifestMs);
  }

  /** Runs one DNLOAD block; returns its time in ms, or undefined after putting the device in dfuERROR. */
  #execute(p: Pending): number | undefined {
    const cfg = this.config;
    if (cfg.dfuse && p.block === 0) return this.#command(p.data);
    if (cfg.dfuse && p.block === 1) {
      this.#fail(E.errTARGET);
      return undefined;
    }
    if (this.readProtected) {
      this.#fail(E.errVENDOR);
      return undefined;
    }
    this.#received += p.data.length;
    if (this.#faults.disconnectAfter !== undefined && !this.#disconnectFired && this.#received > this.#faults.disconnectAfter) {
      this.#disconnectFired = true;
      this.#unplugging = true;
      this.#later(0, () => this.reenumerate('dfu', REPLUG_MS));
    }
    if (this.#faults.failCommand === 'dnload' || (this.#faults.failAfter !== undefined && this.#received > this.#faults.failAfter)) {
      this.#fail(E.errWRITE);
      return undefined;
    }
    const time = cfg.programRate > 0 ? (p.data.length * 1000) / cfg.programRate : 0;
    if (cfg.dfuse) {
      const addr = this.#pointer + (p.block - 2) * cfg.transferSize;
      const off = addr - DFUSE_BASE;
      if (off < 0 || off + p.data.length > cfg.flashSize) {
        this.#fail(E.errADDRESS);
        return undefined;
      }
      if (!this.flash.program(off, p.data)) {
        this.#fail(E.errVERIFY);
        return undefined;
      }
      return time;
    }
    const alt = cfg.alts[this.alt]!;
    if (this.#written + p.data.length > alt.size) {
      this.#fail(E.errADDRESS);
      return undefined;
    }
    this.flash.overwrite(alt.offset + this.#written, p.data);
    this.#written += p.data.length;
    return time;
  }

  #sectorAt(addr: number): Sector | undefined {
    return this.sectors.find((s) => addr >= s.start && addr < s.start + s.size);
  }

  /** DfuSe commands in DNLOAD block 0. */
  #command(d: Uint8Array): number | undefined {
    const addr = d.length >= 5 ? (d[1]! | (d[2]! << 8) | (d[3]! << 16) | (d[4]! << 24)) >>> 0 : undefined;
    const cmd = d[0];
    if (cmd === 0x41 && addr === undefined && d.length === 1) {
      if (this.#faults.failCommand === 'erase') return this.#failed(E.errERASE);
      this.flash.erase(0, this.config.flashSize);
      this.readProtected = false;
      return (this.config.flashSize / 1024) * this.config.eraseMsPerKiB;
    }
    if (cmd === 0x92 && d.length === 1) {
      // Read unprotect: mass erase, then the part resets.
      this.flash.erase(0, this.config.flashSize);
      this.readProtected = false;
      this.#later(1, () => this.reenumerate('dfu'));
      return 0;
    }
    if (addr === undefined || d.length !== 5) return this.#failed(E.errTARGET);
    if (this.readProtected) return this.#failed(E.errVENDOR);
    if (cmd === 0x21) {
      if (addr < DFUSE_BASE || addr >= DFUSE_BASE + this.config.flashSize) return this.#failed(E.errTARGET);
      this.#pointer = addr;
      return 0;
    }
    if (cmd === 0x41) {
      const sector = this.#sectorAt(addr);
      if (!sector) return this.#failed(E.errTARGET);
      if (this.#faults.failCommand === 'erase') return this.#failed(E.errERASE);
      this.flash.erase(sector.start - DFUSE_BASE, sector.size);
      return (sector.size / 1024) * this.config.eraseMsPerKiB;
    }
    return this.#failed(E.errTARGET);
  }

  #failed(status: number): undefined {
    this.#fail(status);
    return undefined;
  }

  #upload(block: number, length: number): ControlAnswer {
    if (this.state !== S.dfuIDLE && this.state !== S.uploadIdle) return this.#stall('UPLOAD');
    if (this.state === S.dfuIDLE) this.#uploaded = 0;
    const cfg = this.config;
    if (cfg.dfuse && block === 0) {
      this.state = S.dfuIDLE;
      return { status: 'ok', data: Uint8Array.of(0x00, 0x21, 0x41, 0x92) };
    }
    if (this.readProtected) {
      this.log.push('stall UPLOAD (read-protected)');
      this.#fail(E.errVENDOR);
      return STALL;
    }
    if (this.#faults.failCommand === 'upload') return this.#stall('UPLOAD');
    let start: number;
    let end: number;
    if (cfg.dfuse) {
      if (block < 2) return this.#stall('UPLOAD');
      // As on ST's bootloader: the block number counts wTransferSize steps, whatever this request's wLength.
      start = this.#pointer - DFUSE_BASE + (block - 2) * cfg.transferSize;
      end = cfg.flashSize;
      if (start > end) {
        this.#fail(E.errADDRESS);
        return STALL;
      }
    } else {
      const alt = cfg.alts[this.alt]!;
      start = alt.offset + this.#uploaded;
      end = alt.offset + alt.size;
    }
    const n = Math.max(0, Math.min(length, end - start));
    this.#uploaded += n;
    this.state = n < length ? S.dfuIDLE : S.uploadIdle;
    return { status: 'ok', data: this.flash.read(start, n) };
  }

  /** Unplug now; back (in DFU mode) after `ms` unless `ms` is undefined. */
  unplug(ms?: number): void {
    if (ms === undefined) {
      this.present = false;
      this.generation++;
      for (const l of this.#listeners) l(false);
      return;
    }
    this.reenumerate('dfu', ms);
  }

  close(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.flash.close();
  }
}
