// Scheduler: a FIFO queue of jobs waiting for their device or a station-wide slot; one job per device at a time.
import type { DeviceRegistry } from '../devices/registry.js';

export interface Queued {
  jobId: string;
  deviceId: string;
  /** Wall-clock ms after which a job whose device is still not connected gives up; undefined = wait for ever. */
  deadline?: number;
}

export interface SchedulerHooks {
  /** The job holds its device (locked) and a slot: run it. */
  start(item: Queued): void;
  /** The job waits at this 1-based position (called on enqueue and whenever the position changes). */
  queued(item: Queued, position: number): void;
  /** The device never appeared before the deadline. */
  expired(item: Queued): void;
}

export class Scheduler {
  private readonly queue: Queued[] = [];
  private readonly positions = new Map<string, number>();
  private readonly running = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private pumping = false;
  private again = false;

  constructor(
    private readonly registry: DeviceRegistry,
    private readonly slotLimit: () => number,
    private readonly hooks: SchedulerHooks,
  ) {}

  get runningCount(): number {
    return this.running.size;
  }

  get queuedCount(): number {
    return this.queue.length;
  }

  /** Of these devices, the ones whose jobs would start at once if added now, in order (FIFO, free slots). */
  startableNow(deviceIds: string[]): string[] {
    if (this.queue.length > 0) return [];
    const out: string[] = [];
    for (const id of deviceIds) {
      if (out.length >= this.freeSlots()) break;
      const e = this.registry.find(id);
      if (e && !e.describing && this.registry.lockedBy(e.attached.device.id) === undefined) out.push(id);
    }
    return out;
  }

  /** Free slots right now. */
  freeSlots(): number {
    return Math.max(0, this.slotLimit() - this.running.size);
  }

  add(item: Queued): void {
    this.queue.push(item);
    this.pump();
  }

  /** Take a queued job out (cancelled). True if it was queued. */
  remove(jobId: string): boolean {
    const i = this.queue.findIndex((q) => q.jobId === jobId);
    if (i < 0) return false;
    this.queue.splice(i, 1);
    this.positions.delete(jobId);
    this.pump();
    return true;
  }

  isQueued(jobId: string): boolean {
    return this.queue.some((q) => q.jobId === jobId);
  }

  /** The job holds a slot (it may still be opening its images before it writes). */
  isRunning(jobId: string): boolean {
    return this.running.has(jobId);
  }

  /** 1-based place in the queue, as last announced with `queued`; undefined when not queued. */
  positionOf(jobId: string): number | undefined {
    return this.positions.get(jobId);
  }

  /** A running job ended: its slot is free; its device lock is released by the caller. */
  finished(jobId: string): void {
    this.running.delete(jobId);
    this.pump();
  }

  /** Look at the queue again (a device came, a slot or device was freed, the slot limit changed). */
  pump(): void {
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.again = false;
        this.pass();
      } while (this.again);
    } finally {
      this.pumping = false;
    }
  }

  clear(): Queued[] {
    const items = this.queue.splice(0);
    this.positions.clear();
    if (this.timer) clearTimeout(this.timer);
    return items;
  }

  private pass(): void {
    const now = Date.now();
    for (let i = 0; i < this.queue.length; ) {
      const item = this.queue[i] as Queued;
      const entry = this.registry.find(item.deviceId);
      if (!entry && item.deadline !== undefined && item.deadline <= now) {
        this.queue.splice(i, 1);
        this.positions.delete(item.jobId);
        this.hooks.expired(item);
        continue;
      }
      // FIFO among the jobs that can run: one waiting for its device does not hold up the others.
      if (this.running.size < this.slotLimit() && entry && !entry.describing) {
        const id = entry.attached.device.id;
        if (this.registry.lockedBy(id) === undefined && this.registry.lock(id, item.jobId)) {
          this.queue.splice(i, 1);
          this.positions.delete(item.jobId);
          this.running.add(item.jobId);
          this.hooks.start(item);
          continue;
        }
      }
      i++;
    }
    this.queue.forEach((item, i) => {
      if (this.positions.get(item.jobId) !== i + 1) {
        this.positions.set(item.jobId, i + 1);
        this.hooks.queued(item, i + 1);
      }
    });
    this.armDeadline(now);
  }

  private armDeadline(now: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const next = Math.min(...this.queue.map((q) => q.deadline ?? Infinity));
    if (!Number.isFinite(next)) return;
    this.timer = setTimeout(() => this.pump(), Math.max(0, next - now) + 1);
    this.timer.unref();
  }
}
