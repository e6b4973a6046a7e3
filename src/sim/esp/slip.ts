// SLIP framing (RFC 1055) as the Espressif serial bootloader uses it: frames between 0xC0 bytes, 0xDB escapes.
export const SLIP_END = 0xc0;
export const SLIP_ESC = 0xdb;
export const SLIP_ESC_END = 0xdc;
export const SLIP_ESC_ESC = 0xdd;

/** One frame: 0xC0, the payload with 0xC0/0xDB escaped, 0xC0. */
export function slipEncode(payload: Uint8Array): Uint8Array {
  let extra = 0;
  for (const b of payload) if (b === SLIP_END || b === SLIP_ESC) extra++;
  const out = new Uint8Array(payload.length + extra + 2);
  out[0] = SLIP_END;
  let at = 1;
  for (const b of payload) {
    if (b === SLIP_END) {
      out[at++] = SLIP_ESC;
      out[at++] = SLIP_ESC_END;
    } else if (b === SLIP_ESC) {
      out[at++] = SLIP_ESC;
      out[at++] = SLIP_ESC_ESC;
    } else {
      out[at++] = b;
    }
  }
  out[at] = SLIP_END;
  return out;
}

/**
 * Streaming decoder. Bytes outside a frame are skipped (a ROM ignores line noise and boot text); an empty frame
 * (0xC0 0xC0, which hosts send to resynchronise) yields nothing; a bad escape or an oversized frame drops the frame.
 */
export class SlipDecoder {
  private readonly buf: Uint8Array;
  private len = -1; // -1: outside a frame
  private escaping = false;
  /** Bytes that arrived outside any frame, or in a frame that was dropped. */
  noise = 0;

  constructor(maxFrame = 0x10000 + 64) {
    this.buf = new Uint8Array(maxFrame);
  }

  push(bytes: Uint8Array): Uint8Array[] {
    const frames: Uint8Array[] = [];
    for (const b of bytes) {
      if (this.len < 0) {
        if (b === SLIP_END) this.len = 0;
        else this.noise++;
        continue;
      }
      if (this.escaping) {
        this.escaping = false;
        if (b === SLIP_ESC_END) this.put(SLIP_END);
        else if (b === SLIP_ESC_ESC) this.put(SLIP_ESC);
        else this.drop(b === SLIP_END ? 0 : -1);
        continue;
      }
      if (b === SLIP_ESC) this.escaping = true;
      else if (b === SLIP_END) {
        // An empty frame only opens the next one.
        if (this.len > 0) {
          frames.push(this.buf.slice(0, this.len));
          this.len = -1;
        }
      } else this.put(b);
    }
    return frames;
  }

  private put(b: number): void {
    if (this.len >= this.buf.length) return this.drop(-1);
    this.buf[this.len++] = b;
  }

  private drop(next: number): void {
    this.noise += Math.max(0, this.len) + 1;
    this.len = next;
    this.escaping = false;
  }

  /** Forget a frame in progress (after a reset). */
  reset(): void {
    this.len = -1;
    this.escaping = false;
  }
}
