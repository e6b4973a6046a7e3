// Incoming messages waiting for a reader, with deadlines: shared by the TCP and UDP transports.
import { FlashError } from '../contracts/errors.js';
import { raceDeadline } from './deadline.js';

export class MessageQueue {
  private readonly messages: Uint8Array[] = [];
  private waiter: { resolve: () => void } | undefined;
  private failure: FlashError | undefined;

  push(message: Uint8Array): void {
    this.messages.push(message);
    this.wake();
  }

  /** Every waiting and later read rejects with `error` once queued messages are used up. */
  fail(error: FlashError): void {
    this.failure ??= error;
    this.wake();
  }

  get size(): number {
    return this.messages.length;
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.resolve();
  }

  /** The next message, at most `maxLength` bytes of it; the rest stays at the head of the queue. */
  async take(maxLength: number, timeoutMs: number | undefined, onTimeout: () => FlashError, signal?: AbortSignal): Promise<Uint8Array> {
    const deadline = timeoutMs !== undefined && timeoutMs > 0 ? Date.now() + timeoutMs : undefined;
    for (;;) {
      const head = this.messages[0];
      if (head) {
        if (head.length <= maxLength) {
          this.messages.shift();
          return head;
        }
        this.messages[0] = head.subarray(maxLength);
        return head.subarray(0, maxLength);
      }
      if (this.failure) throw this.failure;
      const wait = new Promise<void>((resolve) => {
        this.waiter = { resolve };
      });
      const left = deadline === undefined ? undefined : Math.max(1, deadline - Date.now());
      await raceDeadline(wait, left, onTimeout, signal);
    }
  }
}
