/**
 * The CLI's WebSocket: the client half of RFC 6455 over `net`/`tls`, shaped as the WHATWG WebSocket that StationClient
 * takes (WebSocketLike). A client command loads this instead of `ws`, whose bundle (server, extensions, HTTP client)
 * was a quarter of a `flash-station flash` start (~25 ms of ~40 ms of module loading). It speaks what the station
 * speaks: text frames, fragmentation, ping/pong, the close handshake; no extensions are offered. What it refuses, it
 * refuses as the RFC says (1002 protocol error, 1007 bad UTF-8, 1009 too big) and says why in an error event.
 */
import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { WebSocketConstructor, WebSocketLike } from '../client/station-client.js';

export interface CliWebSocketOptions {
  /** PEM CA certificate(s) trusted for `wss://` (else the system's). */
  ca?: Buffer;
  /** Extra request headers (the token as `authorization`). */
  headers?: Record<string, string>;
  /** No answer to the upgrade within this long fails the connection (default 10 s). */
  handshakeTimeoutMs?: number;
  /** The largest message taken (default 100 MiB, as `ws`); a larger one closes with 1009. */
  maxMessageBytes?: number;
  /** How long a close waits for the station's close frame before dropping the connection (default 1 s). */
  closeTimeoutMs?: number;
}

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MAX_HEADER_BYTES = 16 * 1024;
const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/** A WebSocket constructor for StationClient that connects with these options. */
export function cliWebSocket(options: CliWebSocketOptions = {}): WebSocketConstructor {
  return class extends CliWebSocket {
    constructor(url: string) {
      super(url, options);
    }
  };
}

export class CliWebSocket implements WebSocketLike {
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  readonly url: string;
  private state = CONNECTING;
  private readonly socket: Socket;
  private readonly key = randomBytes(16).toString('base64');
  private readonly input = new ByteQueue();
  /** The frames of a fragmented message so far, and their opcode. */
  private fragments: Buffer[] = [];
  private fragmentBytes = 0;
  private fragmentOpcode = 0;
  private closeCode = 1005;
  private closeReason = '';
  private closeSent = false;
  private closeReceived = false;
  private failed: string | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly maxMessage: number;

  constructor(url: string, private readonly options: CliWebSocketOptions = {}) {
    const u = new URL(url);
    // http(s):// is taken for ws(s):// as `ws` and browsers take it (the address of the station's page, say).
    if (!['ws:', 'wss:', 'http:', 'https:'].includes(u.protocol)) throw new SyntaxError('the address must start with ws:// or wss://');
    this.url = url;
    this.maxMessage = options.maxMessageBytes ?? 100 * 1024 * 1024;
    const secure = u.protocol === 'wss:' || u.protocol === 'https:';
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const port = Number(u.port || (secure ? 443 : 80));
    const request = [
      `GET ${u.pathname || '/'}${u.search} HTTP/1.1`,
      `Host: ${u.host}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${this.key}`,
      'Sec-WebSocket-Version: 13',
      ...Object.entries(options.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
      '', '',
    ].join('\r\n');
    this.socket = secure
      ? tlsConnect({ host, port, servername: isIP(host) ? undefined : host, ...(options.ca ? { ca: options.ca } : {}), ALPNProtocols: ['http/1.1'] })
      : netConnect({ host, port });
    this.socket.setNoDelay(true);
    this.socket.once(secure ? 'secureConnect' : 'connect', () => this.socket.write(request));
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (e: Error) => this.fail(e.message));
    this.socket.on('end', () => {
      if (this.state === CONNECTING) this.fail('socket hang up');
      this.socket.end();
    });
    this.socket.on('close', () => this.onSocketClose());
    const waitMs = options.handshakeTimeoutMs ?? 10_000;
    this.timer = setTimeout(() => this.fail(`no WebSocket handshake answer within ${waitMs / 1000} s`), waitMs);
  }

  get readyState(): number {
    return this.state;
  }

  send(data: string): void {
    if (this.state === CONNECTING) throw new Error('WebSocket is not open: readyState 0 (CONNECTING)');
    if (this.state !== OPEN) return;
    this.writeFrame(0x1, Buffer.from(data, 'utf8'));
  }

  close(code = 1000, reason = ''): void {
    if (this.state === CLOSED) return;
    if (this.state === CONNECTING) {
      this.fail('WebSocket was closed before the connection was established');
      return;
    }
    if (this.closeSent) return;
    this.state = CLOSING;
    this.sendClose(code, reason);
    if (this.closeReceived) this.socket.end();
    else this.armCloseTimer();
  }

  // ------------------------------------------------------------------------------------------------ handshake

  private onData(chunk: Buffer): void {
    if (this.state === CLOSED) return;
    this.input.push(chunk);
    if (this.state === CONNECTING && !this.readHandshake()) return;
    this.readFrames();
  }

  /** True once the 101 answer is read and checked (the bytes after it are frames). */
  private readHandshake(): boolean {
    const end = this.input.indexOf('\r\n\r\n');
    if (end < 0) {
      if (this.input.length > MAX_HEADER_BYTES) this.fail('the answer to the WebSocket upgrade has no end of headers');
      return false;
    }
    const head = this.input.take(end + 4).toString('latin1');
    const [statusLine = '', ...lines] = head.slice(0, -4).split('\r\n');
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1];
    if (status !== '101') {
      this.fail(status ? `Unexpected server response: ${status}` : `not an HTTP answer: ${JSON.stringify(statusLine.slice(0, 60))}`);
      return false;
    }
    const headers = new Map<string, string>();
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const accept = createHash('sha1').update(this.key + GUID).digest('base64');
    const why = headers.get('upgrade')?.toLowerCase() !== 'websocket' ? 'Invalid Upgrade header'
      : !/\bupgrade\b/i.test(headers.get('connection') ?? '') ? 'Invalid Connection header'
        : headers.get('sec-websocket-accept') !== accept ? 'Invalid Sec-WebSocket-Accept header'
          : headers.has('sec-websocket-extensions') ? 'Server sent a Sec-WebSocket-Extensions header but no extension was requested'
            : undefined;
    if (why) {
      this.fail(why);
      return false;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    this.state = OPEN;
    this.onopen?.({ type: 'open' });
    return this.state === OPEN || this.state === CLOSING;
  }

  // ------------------------------------------------------------------------------------------------ frames

  private readFrames(): void {
    while (this.state !== CLOSED && !this.failed) {
      const head = this.input.peek(2);
      if (!head) return;
      const b0 = head[0] ?? 0;
      const b1 = head[1] ?? 0;
      let length = b1 & 0x7f;
      const extra = length === 126 ? 2 : length === 127 ? 8 : 0;
      const full = this.input.peek(2 + extra);
      if (!full) return;
      if (length === 126) length = full.readUInt16BE(2);
      else if (length === 127) {
        const big = full.readBigUInt64BE(2);
        if (big > BigInt(this.maxMessage)) return this.protocolError(1009, 'a frame larger than the largest message taken');
        length = Number(big);
      }
      const fin = (b0 & 0x80) !== 0;
      const opcode = b0 & 0x0f;
      if (b0 & 0x70) return this.protocolError(1002, 'a frame with reserved bits set (no extension was agreed)');
      if (b1 & 0x80) return this.protocolError(1002, 'a masked frame from the server');
      const control = opcode >= 0x8;
      if (control && (!fin || length > 125)) return this.protocolError(1002, 'a fragmented or oversized control frame');
      if (!control && opcode !== 0x0 && opcode !== 0x1 && opcode !== 0x2) return this.protocolError(1002, `an unknown opcode ${opcode}`);
      if (control && opcode !== 0x8 && opcode !== 0x9 && opcode !== 0xa) return this.protocolError(1002, `an unknown opcode ${opcode}`);
      if (!control && this.fragmentBytes + length > this.maxMessage) return this.protocolError(1009, 'a message larger than the largest taken');
      if (this.input.length < 2 + extra + length) return;
      this.input.take(2 + extra);
      const payload = this.input.take(length);
      if (control) this.onControl(opcode, payload);
      else this.onDataFrame(opcode, fin, payload);
    }
  }

  private onDataFrame(opcode: number, fin: boolean, payload: Buffer): void {
    if (opcode === 0x0 && this.fragments.length === 0) return this.protocolError(1002, 'a continuation frame with no message to continue');
    if (opcode !== 0x0 && this.fragments.length > 0) return this.protocolError(1002, 'a new message inside a fragmented one');
    if (opcode !== 0x0) this.fragmentOpcode = opcode;
    this.fragments.push(payload);
    this.fragmentBytes += payload.length;
    if (!fin) return;
    const whole = this.fragments.length === 1 ? payload : Buffer.concat(this.fragments, this.fragmentBytes);
    this.fragments = [];
    this.fragmentBytes = 0;
    if (this.state !== OPEN) return; // closing: what still arrives is dropped, as browsers do
    if (this.fragmentOpcode === 0x2) {
      this.onmessage?.({ data: whole });
      return;
    }
    let text: string;
    try {
      text = utf8.decode(whole);
    } catch {
      return this.protocolError(1007, 'a text message that is not UTF-8');
    }
    this.onmessage?.({ data: text });
  }

  private onControl(opcode: number, payload: Buffer): void {
    if (opcode === 0x9) {
      if (this.state === OPEN) this.writeFrame(0xa, payload);
      return;
    }
    if (opcode === 0xa) return;
    // Close: take its code and reason, answer with the same code if we had not closed, then end the TCP side.
    if (payload.length === 1) return this.protocolError(1002, 'a close frame of one byte');
    const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
    let reason = '';
    try {
      reason = payload.length > 2 ? utf8.decode(payload.subarray(2)) : '';
    } catch {
      return this.protocolError(1007, 'a close reason that is not UTF-8');
    }
    this.closeReceived = true;
    this.closeCode = code;
    this.closeReason = reason;
    this.state = CLOSING;
    if (!this.closeSent) this.sendClose(code === 1005 ? 1000 : code, '');
    this.socket.end();
    this.armCloseTimer();
  }

  private protocolError(code: number, why: string): void {
    this.failed ??= `the station sent ${why}`;
    this.onerror?.({ message: this.failed, error: new Error(this.failed) });
    if (!this.closeSent && this.state === OPEN) this.sendClose(code, '');
    this.state = CLOSING;
    this.socket.end();
    this.armCloseTimer();
  }

  private sendClose(code: number, reason: string): void {
    this.closeSent = true;
    const why = Buffer.from(reason, 'utf8').subarray(0, 123);
    const payload = Buffer.alloc(2 + why.length);
    payload.writeUInt16BE(code, 0);
    why.copy(payload, 2);
    this.writeFrame(0x8, payload);
  }

  /** One frame, FIN set, masked as a client's must be. */
  private writeFrame(opcode: number, payload: Buffer): void {
    const n = payload.length;
    const extra = n < 126 ? 0 : n < 65536 ? 2 : 8;
    const frame = Buffer.allocUnsafe(2 + extra + 4 + n);
    frame[0] = 0x80 | opcode;
    frame[1] = 0x80 | (extra === 0 ? n : extra === 2 ? 126 : 127);
    if (extra === 2) frame.writeUInt16BE(n, 2);
    else if (extra === 8) frame.writeBigUInt64BE(BigInt(n), 2);
    const maskAt = 2 + extra;
    randomFillSync(frame, maskAt, 4);
    for (let i = 0; i < n; i++) frame[maskAt + 4 + i] = (payload[i] ?? 0) ^ (frame[maskAt + (i & 3)] ?? 0);
    this.socket.write(frame);
  }

  // ------------------------------------------------------------------------------------------------ ending

  private armCloseTimer(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.socket.destroy(), this.options.closeTimeoutMs ?? 1000);
  }

  /** A failure before or after the handshake: an error event with the reason, then the close (1006). */
  private fail(message: string): void {
    if (this.state === CLOSED || this.failed) return;
    this.failed = message;
    this.state = CLOSING;
    this.onerror?.({ message, error: new Error(message) });
    this.socket.destroy();
  }

  private onSocketClose(): void {
    if (this.state === CLOSED) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.state = CLOSED;
    // 1006: the connection ended without a close frame from the station, or we failed it.
    this.onclose?.({ code: this.closeReceived && !this.failed ? this.closeCode : 1006, reason: this.closeReason });
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Received bytes, kept as the chunks they came in; joined only where a frame spans chunks. */
class ByteQueue {
  private chunks: Buffer[] = [];
  length = 0;

  push(b: Buffer): void {
    if (b.length === 0) return;
    this.chunks.push(b);
    this.length += b.length;
  }

  /** The first n bytes without taking them, or undefined when fewer are here. */
  peek(n: number): Buffer | undefined {
    if (this.length < n) return undefined;
    const first = this.chunks[0];
    if (first && first.length >= n) return first;
    this.join(n);
    return this.chunks[0];
  }

  take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    this.join(n);
    const first = this.chunks[0] as Buffer;
    const out = first.length === n ? first : first.subarray(0, n);
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.length -= n;
    return out;
  }

  /** Where `text` starts within the first MAX_HEADER_BYTES + 4 bytes, or -1. */
  indexOf(text: string): number {
    if (this.length === 0) return -1;
    const at = this.peek(Math.min(this.length, MAX_HEADER_BYTES + 4));
    return at ? at.subarray(0, MAX_HEADER_BYTES + 4).indexOf(text, 0, 'latin1') : -1;
  }

  /** Make the first chunk hold at least n bytes. */
  private join(n: number): void {
    const first = this.chunks[0];
    if (first && first.length >= n) return;
    let have = 0;
    let count = 0;
    while (have < n) have += this.chunks[count++]?.length ?? Infinity;
    this.chunks.splice(0, count, Buffer.concat(this.chunks.slice(0, count), have));
  }
}
