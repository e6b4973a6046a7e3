// Sends one download (`download:%08x`, bytes, OKAY) with progress, throttling, pause and a clean cancel.
import type { JobContext } from '../../contracts/family.js';
import { FlashError, isFlashError } from '../../contracts/errors.js';
import type { FastbootClient } from './client.js';
import { annotate } from './client.js';
import { formatBytes } from '../../protocol/units.js';

/** How a download's bytes count towards the job's progress: data bytes only (headers and fills cost ~nothing). */
export interface DownloadPlan {
  /** Exact byte length of the download. */
  length: number;
  /** Of those, image data bytes; progress grows in proportion as bytes leave. */
  dataBytes: number;
  /** The bytes; their lengths add up to `length`. */
  bytes: AsyncIterable<Uint8Array>;
  /** `system_a, piece 2/5`: where errors say it happened. */
  what: string;
  /**
   * Gives a slice of `bytes` back to the buffer pool it came from; called by the transport once the slice has left
   * (handed to the OS, or its USB transfer ended), so its buffer is refilled for a later slice instead of a fresh one.
   */
  release?: (slice: Uint8Array) => void;
}

const ZEROS = new Uint8Array(1 << 20);

/**
 * Sends a download. Pause and cancel act between writes. A fastboot download cannot be aborted part-way, so on cancel
 * the rest of this download is sent as zeros (no image reading or decoding) and the device answers OKAY; nothing is
 * flashed from it. Errors say how far the download got and, when it could not be finished, that it was left half-sent.
 */
export async function sendDownload(client: FastbootClient, plan: DownloadPlan, ctx: JobContext): Promise<void> {
  const { length, dataBytes, what } = plan;
  await ctx.gate.pass(ctx.signal);
  if (ctx.signal.aborted) throw new FlashError('cancelled', 'Cancelled');
  try {
    await client.startDownload(length, ctx.signal);
  } catch (e) {
    throw annotate(e, `starting the download of ${what} (${length} bytes)`);
  }
  let sent = 0;
  let counted = 0;
  const count = (): void => {
    const due = length === dataBytes ? sent : Math.floor((sent * dataBytes) / length);
    if (due > counted) {
      ctx.moved(due - counted);
      counted = due;
    }
  };
  let cancelled = false;
  try {
    for await (const slice of plan.bytes) {
      if (slice.length === 0) continue;
      if (sent + slice.length > length) {
        throw new FlashError('internal', `${what} produced more than the ${length} bytes announced`);
      }
      try {
        await ctx.gate.pass(ctx.signal);
        await ctx.throttle.take(slice.length, ctx.signal);
      } catch (e) {
        if (ctx.signal.aborted) {
          cancelled = true;
          break;
        }
        throw e;
      }
      if (ctx.signal.aborted) {
        cancelled = true;
        break;
      }
      const release = plan.release;
      await client.transport.write(slice, undefined, release && (() => release(slice)));
      sent += slice.length;
      count();
    }
    if (cancelled) {
      await finishWithZeros(client, length, sent, what, ctx);
      throw new FlashError('cancelled', 'Cancelled');
    }
    if (sent !== length) throw new FlashError('internal', `${what} produced ${sent} of the ${length} bytes announced`);
    await client.finishDownload(length);
    count();
  } catch (e) {
    if (isFlashError(e) && e.code === 'cancelled') throw e;
    if (isFlashError(e) && e.code === 'device_rejected') {
      // The device answered FAIL: it is still in step with us.
      throw annotate(e, `after ${sent} of ${length} bytes of ${what} had been sent`);
    }
    // Anything else (unplugged, no answer, broken image mid-stream): the device's state is unknown. Drop the
    // connection so the next job starts clean, and say where the download stopped.
    await client.transport.close().catch(() => undefined);
    const where =
      sent < length
        ? `${sent} of ${length} bytes of ${what} had been sent; the download was left half-sent`
        : `all ${length} bytes of ${what} had been sent but the device never confirmed them; the download may be left half-received`;
    throw annotate(e, `${where} (the connection was closed; replug or reboot the device into fastboot if it does not answer)`);
  }
}

async function finishWithZeros(client: FastbootClient, length: number, sent: number, what: string, ctx: JobContext): Promise<void> {
  const rest = length - sent;
  ctx.log('info', `Cancelling: finishing the download of ${what} with ${formatBytes(rest)} of zeros so the device stays responsive (nothing is flashed from it)`);
  try {
    let left = rest;
    while (left > 0) {
      const n = Math.min(left, ZEROS.length);
      await client.transport.write(ZEROS.subarray(0, n));
      left -= n;
    }
    await client.finishDownload(length);
  } catch (e) {
    await client.transport.close().catch(() => undefined);
    const reason = e instanceof Error ? e.message : String(e);
    const message =
      `Cancelled — the download of ${what} was left half-sent at byte ${sent} of ${length} (${reason}); ` +
      'reboot the device into fastboot before using it again';
    ctx.log('error', message);
    throw new FlashError('cancelled', message);
  }
}
