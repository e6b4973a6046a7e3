// Timing of USB control transfers on endpoint 0 (full speed 12 Mbit/s or high speed 480 Mbit/s, 64-byte EP0): setup,
// data and status stages with per-transaction framing, plus a host-controller turnaround per transfer.
import type { DfuLinkSpeed } from './config.js';

export interface ControlLinkModel {
  bitsPerSecond: number;
  packetSize: number;
  /** Bytes of framing per transaction: token, data PID and CRC, handshake, sync, EOP, inter-packet gaps. */
  overheadBytes: number;
  /** Fixed cost of one control transfer in the host controller (scheduling its three stages), µs. */
  turnaroundUs: number;
}

export const LINK_MODELS: Record<Exclude<DfuLinkSpeed, 'none'>, ControlLinkModel> = {
  fs: { bitsPerSecond: 12_000_000, packetSize: 64, overheadBytes: 16, turnaroundUs: 100 },
  hs: { bitsPerSecond: 480_000_000, packetSize: 64, overheadBytes: 20, turnaroundUs: 25 },
};

/** Time (µs) of one control transfer moving `dataBytes` in its data stage (0 = no data stage). */
export function controlTransferMicros(model: ControlLinkModel, dataBytes: number): number {
  const transactions = 2 + Math.ceil(dataBytes / model.packetSize);
  const wire = transactions * model.overheadBytes + 8 + dataBytes;
  return (wire * 8 * 1e6) / model.bitsPerSecond + model.turnaroundUs;
}

/**
 * Below this (ms) the last stretch of a wait is spun in place: one event-loop turn can take longer than that, and a
 * turn's overshoot on every 40–90 µs high-speed transfer made the model slower than the link it models. At most this
 * long at a time, the simulator holds its process's event loop.
 */
const SPIN_MS = 0.2;

/**
 * Waits until `performance.now()` reaches `until` (ms): a timer for the bulk, event-loop turns for the rest, and the
 * last SPIN_MS spun in place, so that a high-speed transfer (40–90 µs) lasts as long as the link says, not a whole turn.
 */
export async function sleepUntil(until: number): Promise<void> {
  let left = until - performance.now();
  if (left > 2) await new Promise<void>((r) => setTimeout(r, left - 1.5));
  left = until - performance.now();
  while (left > SPIN_MS) {
    await new Promise<void>((r) => setImmediate(r));
    left = until - performance.now();
  }
  while (performance.now() < until) {
    // spin: at most SPIN_MS
  }
}

/** Endpoint 0 of one device: one transfer at a time on a virtual clock, so short transfers average out right. */
export class ControlPacer {
  readonly model: ControlLinkModel | undefined;
  #busyUntil = 0;

  constructor(speed: DfuLinkSpeed) {
    this.model = speed === 'none' ? undefined : LINK_MODELS[speed];
  }

  async transfer(dataBytes: number): Promise<void> {
    if (!this.model) return;
    const now = performance.now();
    const done = Math.max(now, this.#busyUntil) + controlTransferMicros(this.model, dataBytes) / 1000;
    this.#busyUntil = done;
    await sleepUntil(done);
  }
}
