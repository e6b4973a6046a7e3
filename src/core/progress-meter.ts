// ProgressMeter: transfer speed over a sliding window of active (not paused) time, and the ETA derived from it.
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';

interface Sample {
  /** Active milliseconds since the meter started (paused time excluded). */
  t: number;
  /** Cumulative bytes at t. */
  bytes: number;
}

export interface MeterReading {
  /** Bytes per second over the window. */
  speed: number;
  /** Seconds to move `remaining` bytes at that speed; 0 when the speed is not known yet. */
  eta: number;
}

export class ProgressMeter {
  private readonly samples: Sample[] = [];
  private total = 0;
  private peak = 0;
  /** Wall time the active clock was last (re)started at; undefined while paused or not started. */
  private runningSince: number | undefined;
  /** Active milliseconds accumulated before `runningSince`. */
  private activeBefore = 0;
  /**
   * Where the current flow of bytes began: the first bytes after an idle gap (the image scan before the first
   * download, a device that stalled). The window never reaches back past it, so the idle time does not count as
   * slow transfer ("19 B/s, ETA 979 h" for the first seconds of a job whose header bytes preceded a long scan).
   */
  private flowStart: Sample | undefined;
  /** Cumulative bytes before the count that started the current flow. */
  private flowBytesBefore = 0;

  constructor(
    private readonly windowMs = 3000,
    private readonly clock: Clock = systemClock,
    /** A gap this long after a flow of fewer than `tinyFlowBytes` (headers, a handshake) starts a new flow. */
    private readonly idleGapMs = 1000,
    private readonly tinyFlowBytes = 64 * 1024,
    /** A flow younger than this has no speed yet (0: unknown, no ETA). */
    private readonly warmUpMs = 250,
  ) {}

  start(): void {
    if (this.runningSince !== undefined) return;
    this.runningSince = this.clock.now();
    if (this.samples.length === 0) this.samples.push({ t: this.activeMs(), bytes: this.total });
  }

  pause(): void {
    if (this.runningSince === undefined) return;
    this.activeBefore += this.clock.now() - this.runningSince;
    this.runningSince = undefined;
  }

  resume(): void {
    this.start();
  }

  get paused(): boolean {
    return this.runningSince === undefined;
  }

  /** Active (unpaused) milliseconds since start. */
  activeMs(): number {
    return this.activeBefore + (this.runningSince === undefined ? 0 : this.clock.now() - this.runningSince);
  }

  get bytes(): number {
    return this.total;
  }

  /** Highest windowed speed seen, bytes/s. */
  get peakSpeed(): number {
    return this.peak;
  }

  /** Average over all active time, bytes/s. */
  averageSpeed(): number {
    const ms = this.activeMs();
    return ms > 0 ? (this.total * 1000) / ms : 0;
  }

  add(n: number): void {
    if (n <= 0) return;
    const before = this.total;
    this.total += n;
    const t = this.activeMs();
    const last = this.samples[this.samples.length - 1];
    // A real flow that stalls keeps its window (the speed shows the stall). Only a gap after a tiny start restarts
    // the flow; the bytes of this count moved at some unknown point of the gap, so the flow starts after them.
    const gap = !last || t - last.t >= this.idleGapMs;
    if (!this.flowStart || (gap && before - this.flowBytesBefore < this.tinyFlowBytes)) {
      this.flowStart = { t, bytes: this.total };
      this.flowBytesBefore = before;
    }
    if (last && last.t === t) last.bytes = this.total;
    else this.samples.push({ t, bytes: this.total });
    this.prune(t);
    const s = this.speedAt(t);
    // Peak from windows at least one second long, so one early burst does not count as a peak.
    if (t - (this.flowStart?.t ?? 0) >= Math.min(1000, this.windowMs) && s > this.peak) this.peak = s;
  }

  read(remaining: number): MeterReading {
    if (this.paused) return { speed: 0, eta: this.etaFor(remaining, this.speedAt(this.activeMs())) };
    const speed = this.speedAt(this.activeMs());
    return { speed, eta: this.etaFor(remaining, speed) };
  }

  private etaFor(remaining: number, speed: number): number {
    if (remaining <= 0) return 0;
    return speed > 0 ? remaining / speed : 0;
  }

  private speedAt(t: number): number {
    const first = this.samples[0];
    const flow = this.flowStart;
    if (!first || !flow) return 0;
    if (t - flow.t < this.warmUpMs) return 0;
    const from = Math.max(first.t, flow.t, t - this.windowMs);
    const span = t - from;
    if (span <= 0) return 0;
    const bytesAtFrom = from === flow.t ? flow.bytes : this.bytesAt(from);
    return ((this.total - bytesAtFrom) * 1000) / span;
  }

  /** Cumulative bytes at active time `t`, interpolated between samples. */
  private bytesAt(t: number): number {
    let prev: Sample | undefined;
    for (const s of this.samples) {
      if (s.t >= t) {
        if (!prev || s.t === t) return s.bytes;
        // The bytes of a sample moved during the gap before it: interpolate linearly.
        return prev.bytes + ((s.bytes - prev.bytes) * (t - prev.t)) / (s.t - prev.t);
      }
      prev = s;
    }
    return prev ? prev.bytes : 0;
  }

  private prune(t: number): void {
    // Keep one sample at or before the window start so interpolation has a left edge.
    while (this.samples.length > 2) {
      const second = this.samples[1] as Sample;
      if (second.t <= t - this.windowMs) this.samples.shift();
      else break;
    }
  }
}
