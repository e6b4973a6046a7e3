// Moving bytes to and from a DFU device: DNLOAD in wTransferSize blocks with GETSTATUS polling (bwPollTimeout), the
// zero-length DNLOAD and manifestation, DfuSe commands (SET_ADDRESS, page and mass erase, leave, read-unprotect),
// UPLOAD read-back, and the recoveries: a block the device refused (stall or dfuERROR) is retried after CLRSTATUS, a
// few times, then the step fails naming the block, its address and the device's status.
import { FlashError, isFlashError } from '../../contracts/errors.js';
import type { JobContext } from '../../contracts/family.js';
import { isStall } from '../../transports/usb-control.js';
import type { DfuseElement } from './file.js';
import { elementText, type Payload } from './image.js';
import { pagesFor, type DfuseLayout } from './dfuse-layout.js';
import { ERR_VENDOR, STATE, pollWait, stateName, statusError, type DfuStatus } from './protocol.js';
import type { DfuSession } from './session.js';

/** Retries of one block (or, on plain DFU, of the whole download) after the device refused it. */
export const DEFAULT_BLOCK_RETRIES = 3;

/** Statuses that say the request itself is wrong (a bad address, a protected part): retrying cannot help. */
const FINAL_STATUSES = new Set([1 /* errTARGET */, 2 /* errFILE */, 8 /* errADDRESS */, 10 /* errFIRMWARE */, ERR_VENDOR]);

const CMD_SET_ADDRESS = 0x21;
const CMD_ERASE = 0x41;
const CMD_READ_UNPROTECT = 0x92;
/** Above this block number the address pointer is set again (wValue is 16 bits). */
const MAX_BLOCK = 0xfff0;

export function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

/** The device answered GETSTATUS with dfuERROR (or refused a request, which put it there): its status says why. */
export class DfuStatusError extends FlashError {
  readonly status: DfuStatus;
  constructor(base: FlashError, status: DfuStatus) {
    super(base.code, base.message, { transient: base.transient, ...(base.detail !== undefined ? { detail: base.detail } : {}) });
    this.name = 'DfuStatusError';
    this.status = status;
  }
}

export interface TransferOptions {
  retries?: number;
}

/** How far a step got, for errors and the cancel message. */
export interface Moved {
  done: number;
  total: number;
}

/** Pause, cancel and throttle between two blocks. */
async function between(ctx: JobContext, n: number): Promise<void> {
  await ctx.gate.pass(ctx.signal);
  if (ctx.signal.aborted) throw new FlashError('cancelled', 'Cancelled');
  await ctx.throttle.take(n, ctx.signal);
}

/** After a refused request: the status the device reports now, as an error. */
async function refusal(s: DfuSession, what: string, cause: unknown): Promise<never> {
  let st: DfuStatus;
  try {
    st = await s.req.getStatus();
  } catch {
    throw cause;
  }
  if (st.state === STATE.dfuError) throw new DfuStatusError(statusError(s.label, st, what), st);
  throw cause;
}

/**
 * One DNLOAD and the GETSTATUS polling after it, until dfuDNLOAD-IDLE; a dfuERROR or stall throws DfuStatusError.
 * Not cancellable inside: a device in dfuDNBUSY takes no ABORT, so a cancel waits for the block (callers check their
 * signal between blocks); this also keeps an abort listener off every control transfer of the hot path.
 */
export async function sendBlock(s: DfuSession, block: number, data: Uint8Array, what: string): Promise<void> {
  try {
    await s.req.dnload(block, data);
  } catch (e) {
    if (isStall(e)) await refusal(s, what, e);
    throw e;
  }
  let st: DfuStatus;
  try {
    st = await s.req.pollBlock();
  } catch (e) {
    if (isStall(e)) await refusal(s, what, e);
    throw e;
  }
  if (st.state === STATE.dfuError) throw new DfuStatusError(statusError(s.label, st, what), st);
  if (st.state !== STATE.dnloadIdle) {
    throw new FlashError('protocol_error', `${s.label} went to ${stateName(st.state)} after ${what} (expected dfuDNLOAD-IDLE)`, { transient: true });
  }
}

/**
 * Runs `fn`; when the device refuses (dfuERROR, stall) with a status worth retrying, clears the error (CLRSTATUS) and
 * runs it again, up to `retries` times; then the error says how often it was tried.
 */
export async function retrying<T>(s: DfuSession, ctx: JobContext, what: string, retries: number, fn: (attempt: number) => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (ctx.signal.aborted || !(e instanceof DfuStatusError) || FINAL_STATUSES.has(e.status.status)) throw e;
      if (attempt >= retries) {
        throw new FlashError(
          'device_error',
          `${e.message}; tried ${attempt + 1} times (clearing the error with CLRSTATUS in between) — the device keeps refusing ${what}: ` +
            'check that the part is not write-protected and that the image is for it, then replug it and retry',
          { ...(e.detail !== undefined ? { detail: e.detail } : {}), cause: e },
        );
      }
      ctx.log('warn', `${e.message}; clearing the error and trying again (${attempt + 1} of ${retries})`);
      await s.req.toIdle();
    }
  }
}

/**
 * A plain DFU 1.1 download: blocks from 0, the zero-length DNLOAD, manifestation. After a refused block the device is
 * back in dfuIDLE, where a DNLOAD starts a new download: the whole transfer starts again (at most `retries` times).
 */
export async function downloadPlain(s: DfuSession, payload: Payload, ctx: JobContext, moved: Moved, options: TransferOptions = {}): Promise<void> {
  if (payload.size === 0) throw new FlashError('image_invalid', 'The image is empty: there is nothing to download');
  if (!s.functional.canDownload) throw new FlashError('unsupported', `${s.label} does not take downloads (bitCanDnload is 0)`);
  const ts = s.transferSize;
  const retries = options.retries ?? DEFAULT_BLOCK_RETRIES;
  let counted = 0;
  await retrying(s, ctx, 'the download', retries, async (attempt) => {
    if (attempt > 0) ctx.log('info', 'Starting the download again from byte 0 (a DFU 1.1 download cannot resume after an error)');
    let block = 0;
    let sent = 0;
    moved.done = 0;
    for await (const data of payload.blocks(ts, ctx.signal)) {
      await between(ctx, data.length);
      await sendBlock(s, block, data, `DFU DNLOAD block ${block} (byte ${sent} of ${payload.size})`);
      block++;
      sent += data.length;
      moved.done = sent;
      if (sent > counted) {
        ctx.moved(sent - counted);
        counted = sent;
      }
    }
    await manifest(s, block, ctx);
  });
}

/**
 * The zero-length DNLOAD that ends a download, then GETSTATUS through manifestation. A tolerant device comes back to
 * dfuIDLE; one that is not waits in dfuMANIFEST-WAIT-RESET for our USB reset, or resets by itself: its disconnect
 * after the status said dfuMANIFEST is success. A disconnect before that is an unplug and fails the step.
 */
export async function manifest(s: DfuSession, block: number, ctx: JobContext): Promise<void> {
  await sendZeroLength(s, block, 'the zero-length DFU DNLOAD that ends the download');
  let manifesting = false;
  for (;;) {
    let st: DfuStatus;
    try {
      st = await s.req.getStatus();
    } catch (e) {
      if (isFlashError(e) && e.code === 'disconnected') {
        s.finished = true;
        if (manifesting && !s.functional.manifestationTolerant) {
          ctx.log('info', `${s.label} reset itself after manifestation, as a device that is not manifestation-tolerant does`);
          return;
        }
        throw new FlashError(
          'disconnected',
          `${s.label} left the bus during manifestation, before it said the new firmware was in place: the download was complete, ` +
            'but whether the device took it is unknown — replug it and flash again',
          { cause: e, transient: true, detail: 'manifestation' },
        );
      }
      if (isStall(e)) await refusal(s, 'manifestation', e);
      throw e;
    }
    switch (st.state) {
      case STATE.manifestSync:
      case STATE.manifest:
        manifesting = true;
        await pollWait(Math.min(st.pollTimeout, s.req.maxPollMs));
        continue;
      case STATE.dfuIDLE:
        ctx.log('info', `${s.label} manifested the new firmware and is back in dfuIDLE`);
        return;
      case STATE.manifestWaitReset:
        ctx.log('info', `${s.label} manifested the new firmware and waits for a USB reset: resetting it`);
        await s.usbReset();
        return;
      case STATE.dfuError:
        throw new DfuStatusError(statusError(s.label, st, 'manifestation'), st);
      default:
        throw new FlashError('protocol_error', `${s.label} went to ${stateName(st.state)} during manifestation`, { transient: true });
    }
  }
}

async function sendZeroLength(s: DfuSession, block: number, what: string): Promise<void> {
  try {
    await s.req.dnload(block, new Uint8Array(0));
  } catch (e) {
    if (isStall(e)) await refusal(s, what, e);
    throw e;
  }
}

// ---------------------------------------------------------------- DfuSe

function command(op: number, address?: number): Uint8Array {
  if (address === undefined) return Uint8Array.of(op);
  return Uint8Array.of(op, address & 0xff, (address >>> 8) & 0xff, (address >>> 16) & 0xff, (address >>> 24) & 0xff);
}

export function setAddress(s: DfuSession, address: number): Promise<void> {
  return sendBlock(s, 0, command(CMD_SET_ADDRESS, address), `DfuSe SET_ADDRESS ${hex(address)}`);
}

export function erasePage(s: DfuSession, address: number): Promise<void> {
  return sendBlock(s, 0, command(CMD_ERASE, address), `DfuSe ERASE page ${hex(address)}`);
}

export function massErase(s: DfuSession): Promise<void> {
  return sendBlock(s, 0, command(CMD_ERASE), 'DfuSe mass erase');
}

/** The DfuSe elements of one alt checked against its layout; the erasable pages they touch, each once, in order. */
export function planPages(layout: DfuseLayout, elements: readonly DfuseElement[], layoutText: string): number[] {
  const pages = new Set<number>();
  for (const e of elements) {
    const touched = e.data.length === 0 ? [] : pagesFor(layout, e.address, e.address + e.data.length);
    if (!touched) {
      throw new FlashError('image_too_large', `The DfuSe element at ${elementText(e)} lies outside the writable memory of the device (${layoutText})`, {
        detail: `element ${hex(e.address)}`,
      });
    }
    for (const p of touched) pages.add(p);
  }
  return [...pages].sort((a, b) => a - b);
}

/** Erases the pages the elements touch (only those), then writes each element from its address. */
export async function dfuseWrite(
  s: DfuSession,
  layout: DfuseLayout,
  elements: readonly DfuseElement[],
  ctx: JobContext,
  moved: Moved,
  options: TransferOptions & { erase?: boolean; what: string },
): Promise<void> {
  const retries = options.retries ?? DEFAULT_BLOCK_RETRIES;
  const pages = planPages(layout, elements, s.layoutText(s.alt));
  if (options.erase !== false && pages.length) {
    ctx.stage(`Erasing ${pages.length} page${pages.length === 1 ? '' : 's'} of ${layout.name || 'flash'} for ${options.what}`);
    for (const page of pages) {
      await between(ctx, 0);
      await retrying(s, ctx, `erasing page ${hex(page)}`, retries, () => erasePage(s, page));
    }
    ctx.log('info', `Erased ${pages.length} page(s) from ${hex(pages[0]!)}`);
  }
  ctx.stage(`Writing ${options.what}`);
  const ts = s.transferSize;
  moved.done = 0;
  let block = 2;
  for (const { data, address, first } of dfuseBlocks(elements, ts)) {
    await between(ctx, data.length);
    await retrying(s, ctx, `writing ${hex(address)}`, retries, async (attempt) => {
      if (attempt > 0 || first || block > MAX_BLOCK) {
        await setAddress(s, address);
        block = 2;
      }
      await sendBlock(s, block, data, `DFU DNLOAD block ${block} at ${hex(address)}`);
    });
    block++;
    moved.done += data.length;
    ctx.moved(data.length);
  }
}

/**
 * DfuSe elements cut into blocks of `size` bytes with their addresses. Block numbers count from 2 after a SET_ADDRESS,
 * which each element's `first` block needs.
 */
function* dfuseBlocks(elements: readonly DfuseElement[], size: number): Generator<{ data: Uint8Array; address: number; first: boolean; last: boolean }> {
  for (const e of elements) {
    for (let at = 0; at < e.data.length; at += size) {
      yield { data: e.data.subarray(at, Math.min(e.data.length, at + size)), address: e.address + at, first: at === 0, last: at + size >= e.data.length };
    }
  }
}

/** Leave DFU mode: SET_ADDRESS of the application, the zero-length DNLOAD; the part then starts it (and leaves the bus). */
export async function dfuseLeave(s: DfuSession, address: number, ctx: JobContext): Promise<void> {
  await retrying(s, ctx, 'SET_ADDRESS before leaving DFU', DEFAULT_BLOCK_RETRIES, () => setAddress(s, address));
  await sendZeroLength(s, 2, 'the DfuSe leave request');
  try {
    const st = await s.req.getStatus();
    if (st.state === STATE.dfuError) throw new DfuStatusError(statusError(s.label, st, 'leaving DFU mode'), st);
  } catch (e) {
    if (!(isFlashError(e) && e.code === 'disconnected') && !isStall(e)) throw e;
  }
  s.finished = true;
  ctx.log('info', `${s.label} left DFU mode and starts the application at ${hex(address)}`);
}

/** ST's read-unprotect: the part mass-erases, clears its read protection and resets (it leaves the bus). */
export async function readUnprotect(s: DfuSession, ctx: JobContext): Promise<void> {
  try {
    await s.req.dnload(0, command(CMD_READ_UNPROTECT));
    const st = await s.req.pollBlock();
    if (st.state === STATE.dfuError) throw new DfuStatusError(statusError(s.label, st, 'read-unprotect'), st);
  } catch (e) {
    if (!(isFlashError(e) && e.code === 'disconnected')) throw e;
  }
  s.finished = true;
  ctx.log('warn', `${s.label} removed its read protection: it mass-erased its flash and resets`);
}

// ---------------------------------------------------------------- read-back

/** Compares a read-back block; throws verify_mismatch naming the first differing byte. */
function compare(got: Uint8Array, want: Uint8Array, at: number, where: (offset: number) => string): void {
  if (got.length >= want.length && Buffer.from(got.buffer, got.byteOffset, want.length).equals(want)) return;
  if (got.length < want.length) {
    throw new FlashError('verify_mismatch', `The device returned only ${got.length} of ${want.length} bytes at ${where(at)}: it holds less than the image`);
  }
  for (let i = 0; i < want.length; i++) {
    if (got[i] !== want[i]) {
      throw new FlashError(
        'verify_mismatch',
        `Read-back differs at ${where(at + i)}: the device has 0x${got[i]!.toString(16).padStart(2, '0')}, the image 0x${want[i]!.toString(16).padStart(2, '0')} — flash it again`,
        { detail: `byte offset ${at + i}` },
      );
    }
  }
}

function uploadRefused(s: DfuSession, what: string): (e: unknown) => Promise<never> {
  return async (e) => {
    if (isStall(e)) await refusal(s, what, e);
    throw e;
  };
}

/** Verify progress as a stage sentence (`Verifying firmware: 40 %`) plus moved bytes for the speed. */
function verifyMeter(ctx: JobContext, what: string, total: number): (n: number) => void {
  let done = 0;
  let shown = -1;
  return (n) => {
    done += n;
    ctx.moved(n);
    const pct = Math.floor((done / Math.max(1, total)) * 100);
    if (pct !== shown) {
      shown = pct;
      ctx.stage(`Verifying ${what}: ${pct} %`);
    }
  };
}

/** UPLOAD of a plain DFU alt from its start, compared with the payload; ABORT back to dfuIDLE at the end. */
export async function verifyPlain(s: DfuSession, payload: Payload, ctx: JobContext, what: string): Promise<void> {
  const ts = s.transferSize;
  const meter = verifyMeter(ctx, what, payload.size);
  meter(0);
  let block = 0;
  let at = 0;
  for await (const want of payload.blocks(ts, ctx.signal)) {
    await between(ctx, 0);
    const got = await s.req.upload(block, want.length).catch(uploadRefused(s, `UPLOAD block ${block}`));
    compare(got, want, at, (o) => `byte ${o} of ${what}`);
    block++;
    at += want.length;
    meter(want.length);
  }
  await s.req.toIdle();
}

/** SET_ADDRESS + UPLOAD of each element, compared with its bytes; ABORT back to dfuIDLE. */
export async function verifyDfuse(s: DfuSession, elements: readonly DfuseElement[], ctx: JobContext, what: string): Promise<void> {
  const ts = s.transferSize;
  const total = elements.reduce((n, e) => n + e.data.length, 0);
  const meter = verifyMeter(ctx, what, total);
  meter(0);
  let block = 2;
  for (const { data: want, address, first, last } of dfuseBlocks(elements, ts)) {
    await between(ctx, 0);
    if (first || block > MAX_BLOCK) {
      await setAddress(s, address);
      await s.req.abort(); // SET_ADDRESS leaves dfuDNLOAD-IDLE; UPLOAD starts from dfuIDLE
      block = 2;
    }
    const got = await s.req.upload(block, want.length).catch(uploadRefused(s, `UPLOAD at ${hex(address)}`));
    compare(got, want, 0, (o) => hex(address + o));
    block++;
    meter(want.length);
    if (last) await s.req.toIdle();
  }
}
