// Pull bytes from a stream of slices in the sizes a parser wants, without copying when a request fits in one slice.
import { FlashError } from '../contracts/errors.js';

export class ByteReader {
  private readonly it: AsyncIterator<Uint8Array>;
  private cur: Uint8Array = new Uint8Array(0);
  private at = 0;
  private ended = false;
  /** Bytes handed out or skipped so far. */
  position = 0;

  constructor(
    stream: AsyncIterable<Uint8Array>,
    private readonly what: string,
  ) {
    this.it = stream[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    while (this.at >= this.cur.length) {
      if (this.ended) return false;
      const r = await this.it.next();
      if (r.done) {
        this.ended = true;
        return false;
      }
      this.cur = r.value;
      this.at = 0;
    }
    return true;
  }

  /** Up to `max` bytes (at least 1) from the current slice, or null at the end. */
  async upTo(max: number): Promise<Uint8Array | null> {
    if (!(await this.fill())) return null;
    const n = Math.min(max, this.cur.length - this.at);
    const out = this.cur.subarray(this.at, this.at + n);
    this.at += n;
    this.position += n;
    return out;
  }

  /** Exactly `n` bytes; fewer only at the end of the stream (check the length). */
  async read(n: number): Promise<Uint8Array> {
    const first = await this.upTo(n);
    if (!first) return new Uint8Array(0);
    if (first.length === n) return first;
    const out = new Uint8Array(n);
    out.set(first, 0);
    let got = first.length;
    while (got < n) {
      const more = await this.upTo(n - got);
      if (!more) return out.subarray(0, got);
      out.set(more, got);
      got += more.length;
    }
    return out;
  }

  /** Exactly `n` bytes or a FlashError saying the stream was cut short while reading `thing`. */
  async exact(n: number, thing: string): Promise<Uint8Array> {
    const b = await this.read(n);
    if (b.length !== n) {
      throw new FlashError('image_invalid', `${this.what} ends in the middle of ${thing} (at byte ${this.position}): it is truncated`);
    }
    return b;
  }

  async skip(n: number, thing: string): Promise<void> {
    let left = n;
    while (left > 0) {
      const b = await this.upTo(left);
      if (!b) throw new FlashError('image_invalid', `${this.what} ends in the middle of ${thing}: it is truncated`);
      left -= b.length;
    }
  }

  /** True when no byte is left. */
  async atEnd(): Promise<boolean> {
    return !(await this.fill());
  }

  async close(): Promise<void> {
    await this.it.return?.();
  }
}
