// One client's outbound path with backpressure: sends straight through while the socket keeps up; once it lags,
// progress is coalesced to the latest frame per job, lifecycle frames queue in order, and past a bound it is dropped.
import type { WebSocket } from 'ws';

/** A frame serialised once for every client. */
export interface PreparedFrame {
  data: Buffer;
  /** Set for flash_progress: only the latest frame per key needs to reach a lagging client. */
  coalesceKey?: string;
  /** The job a lifecycle frame belongs to, so a pending progress of that job goes out before it. */
  jobId?: string;
}

export interface ChannelLimits {
  /** Socket buffer (bytes) above which frames are held back. */
  highWaterBytes: number;
  /** Held-back plus socket-buffered bytes above which the client is disconnected. */
  maxQueuedBytes: number;
}

export interface ChannelCounters {
  framesSent: number;
  framesCoalesced: number;
  framesDropped: number;
  slowClientsDisconnected: number;
}

export const DEFAULT_CHANNEL_LIMITS: ChannelLimits = { highWaterBytes: 64 * 1024, maxQueuedBytes: 4 * 1024 * 1024 };

const RETRY_MS = 20;
/** At most this much of one batch goes to a client's socket at once; the rest waits (coalesced) like any lag. */
const BATCH_BYTES = 256 * 1024;

export class ClientChannel {
  private readonly queue: PreparedFrame[] = [];
  private readonly pending = new Map<string, PreparedFrame>();
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private dead = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly limits: ChannelLimits,
    private readonly counters: ChannelCounters,
  ) {}

  /** True while frames are held back for this client. */
  get lagging(): boolean {
    return this.queue.length > 0 || this.pending.size > 0;
  }

  get heldBytes(): number {
    return this.queuedBytes;
  }

  push(frame: PreparedFrame): void {
    this.pushAll([frame]);
  }

  /**
   * Send several frames in one write: the socket is corked while the frames that fit under the high-water mark go
   * out, so a batch costs one system call; the rest are held back (coalesced) exactly as for single frames.
   */
  pushAll(frames: readonly PreparedFrame[]): void {
    if (this.dead || this.ws.readyState !== this.ws.OPEN) return;
    // A socket that keeps up takes a whole batch in one corked write (its bytes count as buffered only until the
    // uncork hands them to the kernel); one that lags gets nothing new until it drains.
    const buffered = this.ws.bufferedAmount;
    let budget = this.lagging || buffered >= this.limits.highWaterBytes ? 0 : Math.max(this.limits.highWaterBytes, BATCH_BYTES) - buffered;
    const socket = frames.length > 1 ? (this.ws as unknown as { _socket?: { cork?(): void; uncork?(): void } })._socket : undefined;
    socket?.cork?.();
    try {
      for (const frame of frames) {
        if (this.dead) return;
        if (budget > 0) {
          this.write(frame);
          budget -= frame.data.length;
        } else {
          this.hold(frame);
        }
      }
    } finally {
      socket?.uncork?.();
    }
  }

  /** Keep a frame back for a lagging client: progress coalesced per job, lifecycle frames in order. */
  private hold(frame: PreparedFrame): void {
    if (frame.coalesceKey !== undefined) {
      const previous = this.pending.get(frame.coalesceKey);
      if (previous) {
        this.counters.framesCoalesced++;
        this.queuedBytes -= previous.data.length;
      }
      this.pending.set(frame.coalesceKey, frame);
    } else {
      const progress = frame.jobId === undefined ? undefined : this.pending.get(frame.jobId);
      if (progress && frame.jobId !== undefined) {
        // Keep a job's frames in order: its latest progress goes before its lifecycle event.
        this.pending.delete(frame.jobId);
        this.queue.push(progress);
      }
      this.queue.push(frame);
    }
    this.queuedBytes += frame.data.length;
    if (this.queuedBytes + this.ws.bufferedAmount > this.limits.maxQueuedBytes) {
      this.dropClient();
      return;
    }
    this.schedule();
  }

  /** Send what the socket will take now. */
  flush(): void {
    this.timer = undefined;
    if (this.dead) return;
    if (this.ws.readyState !== this.ws.OPEN) {
      this.discard();
      return;
    }
    while (this.ws.bufferedAmount < this.limits.highWaterBytes) {
      let frame = this.queue.shift();
      if (!frame) {
        const first = this.pending.entries().next();
        if (first.done) break;
        this.pending.delete(first.value[0]);
        frame = first.value[1];
      }
      this.queuedBytes -= frame.data.length;
      this.write(frame);
    }
    if (this.lagging) this.schedule();
  }

  /** Hand everything held back to the socket at once (before a clean close). */
  drainAll(): void {
    if (this.dead || this.ws.readyState !== this.ws.OPEN) return;
    for (const frame of [...this.queue, ...this.pending.values()]) this.write(frame);
    this.queue.length = 0;
    this.pending.clear();
    this.queuedBytes = 0;
  }

  /** Forget everything held back (the connection is gone). */
  discard(): void {
    this.counters.framesDropped += this.queue.length + this.pending.size;
    this.queue.length = 0;
    this.pending.clear();
    this.queuedBytes = 0;
    this.dead = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private write(frame: PreparedFrame): void {
    this.counters.framesSent++;
    this.ws.send(frame.data, { binary: false });
  }

  private schedule(): void {
    if (this.timer || this.dead) return;
    this.timer = setTimeout(() => this.flush(), RETRY_MS);
    this.timer.unref?.();
  }

  private dropClient(): void {
    this.counters.slowClientsDisconnected++;
    this.discard();
    // 1008: policy violation — the client did not read its frames; it may reconnect and get a fresh snapshot.
    this.ws.close(1008, 'Too slow: frames not read');
    const ws = this.ws;
    setTimeout(() => ws.terminate(), 1000).unref();
  }
}
