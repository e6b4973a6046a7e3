// Images that carry their own load addresses (Intel HEX, S-record): sorted, non-overlapping segments, sniffed by content.
import { FlashError } from '../contracts/errors.js';

export interface Segment {
  address: number;
  bytes: Uint8Array;
}

export interface AddressedImage {
  format: 'ihex' | 'srec';
  /** Sorted by address, merged where contiguous, never overlapping. */
  segments: Segment[];
  /** Start address record (05/03, S7/S8/S9), when the file has one. */
  entry?: number;
  /** Data bytes in all segments. */
  dataBytes: number;
}

/** `ihex` or `srec` when the first line is a well-formed record of that format, else undefined (a raw image). */
export function sniffAddressed(head: Uint8Array): 'ihex' | 'srec' | undefined {
  const text = new TextDecoder('latin1').decode(head.subarray(0, 80));
  const line = text.replace(/^\uFEFF/, '').split(/\r?\n/)[0] ?? '';
  // The head may cut a long first line short: every character seen must still be a hex digit.
  if (/^:[0-9A-Fa-f]{10,}$/.test(line.trimEnd())) return 'ihex';
  if (/^S[0-9][0-9A-Fa-f]{6,}$/.test(line.trimEnd())) return 'srec';
  return undefined;
}

/** Collects records' data into segments: rejects overlaps, merges neighbours. */
export class SegmentBuilder {
  private pieces: Segment[] = [];

  constructor(private readonly name: string) {}

  add(address: number, bytes: Uint8Array, where: string): void {
    if (bytes.length === 0) return;
    if (address + bytes.length > 0x1_0000_0000) {
      throw new FlashError('image_invalid', `${this.name}: ${where}: data runs past the 4 GiB address space`);
    }
    this.pieces.push({ address, bytes });
  }

  build(format: 'ihex' | 'srec', entry: number | undefined): AddressedImage {
    const sorted = this.pieces.sort((a, b) => a.address - b.address);
    const out: Segment[] = [];
    let run: { address: number; parts: Uint8Array[]; end: number } | undefined;
    const flush = (): void => {
      if (!run) return;
      const bytes = new Uint8Array(run.end - run.address);
      let at = 0;
      for (const p of run.parts) {
        bytes.set(p, at);
        at += p.length;
      }
      out.push({ address: run.address, bytes });
    };
    for (const p of sorted) {
      if (run && p.address < run.end) {
        throw new FlashError('image_invalid', `${this.name}: two records both hold address 0x${p.address.toString(16)}`);
      }
      if (run && p.address === run.end) {
        run.parts.push(p.bytes);
        run.end += p.bytes.length;
        continue;
      }
      flush();
      run = { address: p.address, parts: [p.bytes], end: p.address + p.bytes.length };
    }
    flush();
    const dataBytes = out.reduce((n, s) => n + s.bytes.length, 0);
    return { format, segments: out, ...(entry !== undefined ? { entry } : {}), dataBytes };
  }
}

/** Hex pairs → bytes; undefined when a character is not a hex digit or the count is odd. */
export function hexBytes(text: string): Uint8Array | undefined {
  if (text.length % 2 !== 0 || !/^[0-9A-Fa-f]*$/.test(text)) return undefined;
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function toHex(bytes: ArrayLike<number>): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += (bytes[i] ?? 0).toString(16).padStart(2, '0').toUpperCase();
  return s;
}
