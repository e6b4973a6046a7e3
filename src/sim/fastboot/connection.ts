// One host session with a simulated fastboot device, independent of the face carrying it (TCP, UDP, in-process USB):
// host → device messages go in through `write`, device → host packets come out through `read`.

export type EndReason =
  /** The host closed its side (socket closed, USB device closed). */
  | 'closed'
  /** Another host session took the device over. */
  | 'replaced'
  /** The device rebooted (reboot, reboot-bootloader, continue, boot …). */
  | 'reboot'
  /** The device vanished (fault `disconnect-after`, or the simulator stopped). */
  | 'unplugged';

/** Thrown to pending and later calls once the session has ended. */
export class SimDisconnectedError extends Error {
  override name = 'SimDisconnectedError';
  readonly reason: EndReason;
  constructor(reason: EndReason) {
    super(
      reason === 'closed'
        ? 'the session was closed'
        : reason === 'replaced'
          ? 'another host session took over the device'
          : reason === 'reboot'
            ? 'the device rebooted'
            : 'the device was disconnected',
    );
    this.reason = reason;
  }
}

interface Item {
  bytes: Uint8Array;
  /** Upload data may be read in pieces; response packets are always read whole. */
  stream: boolean;
}

interface Waiter {
  max: number;
  resolve: (b: Uint8Array) => void;
  reject: (e: Error) => void;
}

/** What a session asks of its device. */
export interface SessionHost {
  /** Handle a host → device message. Resolves when the device has taken the bytes in (link model, backpressure). */
  receive(session: SimSession, data: Uint8Array, endOfMessage: boolean): Promise<void>;
}

export class SimSession {
  readonly #host: SessionHost;
  readonly #queue: Item[] = [];
  readonly #waiters: Waiter[] = [];
  readonly #parked = new Set<(e: Error) => void>();
  #ended: EndReason | undefined;
  #endAfterDrain: EndReason | undefined;
  #drainTimer: ReturnType<typeof setTimeout> | undefined;
  #stalled = false;
  #resolveEnded!: (r: EndReason) => void;
  /** Resolves with the reason once the session is over, whichever side ended it. */
  readonly ended: Promise<EndReason>;

  constructor(host: SessionHost) {
    this.#host = host;
    this.ended = new Promise((r) => (this.#resolveEnded = r));
  }

  get closed(): boolean {
    return this.#ended !== undefined;
  }

  get endReason(): EndReason | undefined {
    return this.#ended;
  }

  get stalled(): boolean {
    return this.#stalled;
  }

  /** A response is ready to be read. */
  get pending(): boolean {
    return this.#queue.length > 0;
  }

  /** Host → device. `endOfMessage` marks a transfer boundary (USB transfer, TCP frame, end of a UDP packet run). */
  write(data: Uint8Array, endOfMessage = true): Promise<void> {
    if (this.#ended) return Promise.reject(new SimDisconnectedError(this.#ended));
    if (this.#stalled) return this.park<void>();
    return this.#host.receive(this, data, endOfMessage);
  }

  /**
   * Device → host: the next response packet whole, or up to `max` bytes of upload data. An aborted read (a transfer
   * that timed out on the host) takes nothing: the response stays queued for the next read.
   */
  read(max = Number.MAX_SAFE_INTEGER, signal?: AbortSignal): Promise<Uint8Array> {
    if (this.#ended) return Promise.reject(new SimDisconnectedError(this.#ended));
    if (!this.#stalled && this.#queue.length && !this.#waiters.length) return Promise.resolve(this.#take(max));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { max, resolve, reject };
      this.#waiters.push(waiter);
      this.#parked.add(reject);
      signal?.addEventListener(
        'abort',
        () => {
          const i = this.#waiters.indexOf(waiter);
          if (i < 0) return;
          this.#waiters.splice(i, 1);
          this.#parked.delete(reject);
          reject(signal.reason instanceof Error ? signal.reason : new Error('read aborted'));
        },
        { once: true },
      );
    });
  }

  /** The host ends the session. */
  close(): void {
    this.end('closed');
  }

  // ---------------------------------------------------------------- device side

  /** Queue one response packet (at most 256 bytes). */
  respond(packet: Uint8Array): void {
    this.#push({ bytes: packet, stream: false });
  }

  /** Queue device → host data (upload, fetch). */
  send(data: Uint8Array): void {
    if (data.length) this.#push({ bytes: data, stream: true });
  }

  /** End the session once the queued responses have been read (e.g. after the OKAY to `reboot`). */
  endAfterDrain(reason: EndReason, graceMs = 2000): void {
    this.#endAfterDrain = reason;
    if (!this.#queue.length) setImmediate(() => this.end(reason));
    else this.#drainTimer = setTimeout(() => this.end(reason), graceMs);
  }

  /** Stop reading and answering: pending and later calls never settle until the session ends. */
  stall(): void {
    this.#stalled = true;
  }

  /** A promise that settles only by rejection when the session ends. */
  park<T>(): Promise<T> {
    if (this.#ended) return Promise.reject(new SimDisconnectedError(this.#ended));
    return new Promise<T>((_resolve, reject) => this.#parked.add(reject));
  }

  end(reason: EndReason): void {
    if (this.#ended) return;
    this.#ended = reason;
    if (this.#drainTimer) clearTimeout(this.#drainTimer);
    const err = new SimDisconnectedError(reason);
    this.#waiters.length = 0;
    for (const reject of this.#parked) reject(err);
    this.#parked.clear();
    this.#queue.length = 0;
    this.#resolveEnded(reason);
  }

  #push(item: Item): void {
    if (this.#ended) return;
    this.#queue.push(item);
    if (this.#stalled) return;
    while (this.#waiters.length && this.#queue.length) {
      const w = this.#waiters.shift()!;
      this.#parked.delete(w.reject);
      w.resolve(this.#take(w.max));
    }
  }

  #take(max: number): Uint8Array {
    const item = this.#queue[0]!;
    let out: Uint8Array;
    if (item.stream && item.bytes.length > max) {
      out = item.bytes.subarray(0, max);
      item.bytes = item.bytes.subarray(max);
    } else {
      out = item.bytes;
      this.#queue.shift();
    }
    if (!this.#queue.length && this.#endAfterDrain) {
      const reason = this.#endAfterDrain;
      setImmediate(() => this.end(reason));
    }
    return out;
  }
}
