// A WebSocket stand-in for unit tests of the server's socket code: records what is sent, lets the test set the
// socket buffer, and emits frames, pongs and closes on demand.
import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';

export class FakeWs extends EventEmitter {
  readonly OPEN = 1;
  readonly CLOSED = 3;
  readyState = 1;
  bufferedAmount = 0;
  readonly sent: string[] = [];
  pings = 0;
  closedWith: { code: number; reason: string } | undefined;
  terminated = false;

  /** The underlying socket's cork/uncork, as `ws` exposes it: counts the writes the kernel would see. */
  readonly _socket = {
    depth: 0,
    pending: 0,
    /** Writes handed to the kernel: one per uncorked send, one per uncork that releases corked sends. */
    writes: 0,
    cork: (): void => {
      this._socket.depth++;
    },
    uncork: (): void => {
      this._socket.depth = Math.max(0, this._socket.depth - 1);
      if (this._socket.depth === 0 && this._socket.pending > 0) {
        this._socket.writes++;
        this._socket.pending = 0;
      }
    },
  };

  send(data: Buffer | string): void {
    this.sent.push(data.toString());
    if (this._socket.depth > 0) this._socket.pending++;
    else this._socket.writes++;
  }

  close(code: number, reason: string): void {
    this.closedWith = { code, reason };
    this.readyState = this.CLOSED;
  }

  terminate(): void {
    this.terminated = true;
    this.readyState = this.CLOSED;
    this.emit('close', 1006, Buffer.alloc(0));
  }

  ping(): void {
    this.pings++;
  }

  /** Frames sent, parsed. */
  frames(): Array<Record<string, unknown> & { type: string }> {
    return this.sent.map((s) => JSON.parse(s) as Record<string, unknown> & { type: string });
  }

  /** The client sends a text frame. */
  receive(value: unknown): void {
    this.emit('message', Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)), false);
  }

  asWs(): WebSocket {
    return this as unknown as WebSocket;
  }
}
