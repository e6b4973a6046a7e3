// The CLI's WebSocket against `ws`'s server (the station's) and against raw TCP servers that answer wrongly.
import { createHash } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket as WsSocket } from 'ws';
import { CliWebSocket, type CliWebSocketOptions } from '../../../src/cli/websocket.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Seen {
  ws: CliWebSocket;
  events: string[];
  messages: unknown[];
  errors: string[];
  opened: Promise<void>;
  closed: Promise<{ code: number; reason: string }>;
}

function client(url: string, options?: CliWebSocketOptions): Seen {
  const ws = new CliWebSocket(url, options);
  const seen: Partial<Seen> & Pick<Seen, 'events' | 'messages' | 'errors'> = { ws, events: [], messages: [], errors: [] };
  seen.opened = new Promise((resolve) => {
    ws.onopen = () => {
      seen.events.push('open');
      resolve();
    };
  });
  seen.closed = new Promise((resolve) => {
    ws.onclose = (e) => {
      seen.events.push(`close ${e.code}`);
      resolve(e);
    };
  });
  ws.onmessage = (e) => seen.messages.push(e.data);
  ws.onerror = (e) => {
    const message = (e as { message: string }).message;
    seen.events.push('error');
    seen.errors.push(message);
  };
  cleanups.push(() => ws.close());
  return seen as Seen;
}

async function wsServer(): Promise<{ url: string; next: () => Promise<{ socket: WsSocket; headers: Record<string, unknown> }> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  cleanups.push(() => new Promise<void>((r) => {
    for (const c of wss.clients) c.terminate();
    wss.close(() => r());
  }));
  const queue: Array<{ socket: WsSocket; headers: Record<string, unknown> }> = [];
  const waiting: Array<(c: { socket: WsSocket; headers: Record<string, unknown> }) => void> = [];
  wss.on('connection', (socket, req) => {
    const c = { socket, headers: req.headers as Record<string, unknown> };
    const w = waiting.shift();
    if (w) w(c);
    else queue.push(c);
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/flash-progress?x=1`,
    next: () => new Promise((r) => {
      const c = queue.shift();
      if (c) r(c);
      else waiting.push(r);
    }),
  };
}

/** A raw TCP server: `onSocket` gets each connection and the upgrade request's key once it has arrived. */
async function rawServer(onSocket: (socket: Socket, key: string) => void): Promise<string> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    let head = '';
    const onData = (d: Buffer): void => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      onSocket(socket, /Sec-WebSocket-Key: (\S+)/i.exec(head)?.[1] ?? '');
    };
    socket.on('data', onData);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanups.push(() => new Promise<void>((r) => {
    for (const s of sockets) s.destroy();
    server.close(() => r());
  }));
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

function accept(key: string): string {
  return 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${createHash('sha1').update(key + GUID).digest('base64')}\r\n\r\n`;
}

/** An unmasked server frame. */
function frame(opcode: number, payload: Buffer, options: { fin?: boolean; masked?: boolean; rsv?: number } = {}): Buffer {
  const n = payload.length;
  const extra = n < 126 ? 0 : n < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + extra);
  head[0] = (options.fin === false ? 0 : 0x80) | (options.rsv ?? 0) | opcode;
  head[1] = (options.masked ? 0x80 : 0) | (extra === 0 ? n : extra === 2 ? 126 : 127);
  if (extra === 2) head.writeUInt16BE(n, 2);
  if (extra === 8) head.writeBigUInt64BE(BigInt(n), 2);
  return Buffer.concat([head, ...(options.masked ? [Buffer.alloc(4)] : []), payload]);
}

describe('CliWebSocket against ws (the station’s server)', () => {
  it('opens with the given headers, sends and receives text, big and fragmented messages, answers pings', async () => {
    const server = await wsServer();
    const c = client(server.url, { headers: { authorization: 'Bearer t0k' } });
    const { socket, headers } = await server.next();
    await c.opened;
    expect(headers.authorization).toBe('Bearer t0k');
    expect(headers['sec-websocket-extensions']).toBeUndefined(); // no compression offered
    const got = new Promise<string>((r) => socket.once('message', (d: Buffer) => r(d.toString())));
    c.ws.send(JSON.stringify({ type: 'ping', text: 'ünïcode ✓' }));
    expect(JSON.parse(await got)).toEqual({ type: 'ping', text: 'ünïcode ✓' });
    const big = 'x'.repeat(5 * 1024 * 1024 + 3); // 64-bit length, many TCP reads
    const long = 'y'.repeat(70_000); // 16-bit length
    socket.send(big);
    socket.send(long);
    socket.send('part one, ', { fin: false });
    socket.send('part two', { fin: true });
    const pong = new Promise<string>((r) => socket.once('pong', (d) => r(String(d))));
    socket.ping('are you there');
    expect(await pong).toBe('are you there');
    await until(() => c.messages.length === 3);
    expect(c.messages[0]).toBe(big);
    expect(c.messages[1]).toBe(long);
    expect(c.messages[2]).toBe('part one, part two');
  });

  it('a client close: the station sees the code and reason; the client closes with the code echoed', async () => {
    const server = await wsServer();
    const c = client(server.url);
    const { socket } = await server.next();
    await c.opened;
    const seen = new Promise<[number, string]>((r) => socket.once('close', (code, reason) => r([code, String(reason)])));
    c.ws.close(1000, 'client closing');
    expect(c.ws.readyState).toBe(2);
    expect(await seen).toEqual([1000, 'client closing']);
    expect((await c.closed).code).toBe(1000);
    expect(c.ws.readyState).toBe(3);
    expect(c.errors).toEqual([]);
  });

  it('a station close: its code and reason reach onclose', async () => {
    const server = await wsServer();
    const c = client(server.url);
    const { socket } = await server.next();
    await c.opened;
    socket.close(4001, 'Wrong token');
    expect(await c.closed).toEqual({ code: 4001, reason: 'Wrong token' });
    expect(c.events).toEqual(['open', 'close 4001']);
  });

  it('a station that goes away without a close frame: 1006', async () => {
    const server = await wsServer();
    const c = client(server.url);
    const { socket } = await server.next();
    await c.opened;
    socket.terminate();
    expect((await c.closed).code).toBe(1006);
  });

  it('takes an http:// address for ws:// (as ws and browsers do); refuses other schemes', async () => {
    const server = await wsServer();
    const c = client(server.url.replace(/^ws:/, 'http:'));
    await server.next();
    await c.opened;
    expect(() => new CliWebSocket('ftp://127.0.0.1/')).toThrow('the address must start with ws:// or wss://');
  });

  it('send while connecting throws; send after close is dropped', async () => {
    const server = await wsServer();
    const c = client(server.url);
    expect(() => c.ws.send('early')).toThrow(/CONNECTING/);
    await server.next();
    await c.opened;
    c.ws.close();
    expect(() => c.ws.send('late')).not.toThrow();
    await c.closed;
  });
});

describe('CliWebSocket refuses what is not a WebSocket station', () => {
  it('nothing listening: the error names the refused connection, then 1006', async () => {
    const url = await rawServer(() => undefined);
    await new Promise((r) => setTimeout(r, 0));
    for (const c of cleanups.splice(0)) await c(); // the port is free again
    const c = client(url);
    expect((await c.closed).code).toBe(1006);
    expect(c.errors[0]).toMatch(/ECONNREFUSED/);
    expect(c.events).toEqual(['error', 'close 1006']);
  });

  it('an HTTP answer other than 101 (a busy station): "Unexpected server response: 503"', async () => {
    const url = await rawServer((s) => s.end('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n'));
    const c = client(url);
    expect((await c.closed).code).toBe(1006);
    expect(c.errors).toEqual(['Unexpected server response: 503']);
  });

  it('a wrong Sec-WebSocket-Accept, an extension not asked for, a missing Upgrade', async () => {
    const answers = [
      ['HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAA\r\n\r\n', /Sec-WebSocket-Accept/],
      [null, /Extensions/],
      ['HTTP/1.1 101 OK\r\nConnection: Upgrade\r\n\r\n', /Upgrade header/],
    ] as const;
    for (const [answer, why] of answers) {
      const url = await rawServer((s, key) => s.write(answer ?? accept(key).replace('\r\n\r\n', '\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n')));
      const c = client(url);
      expect((await c.closed).code).toBe(1006);
      expect(c.errors[0]).toMatch(why);
      expect(c.events).not.toContain('open');
    }
  });

  it('a hang-up before the answer: "socket hang up"; no answer at all: a timeout that says so', async () => {
    const hang = client(await rawServer((s) => s.end()));
    await hang.closed;
    expect(hang.errors).toEqual(['socket hang up']);
    const silent = client(await rawServer(() => undefined), { handshakeTimeoutMs: 150 });
    expect((await silent.closed).code).toBe(1006);
    expect(silent.errors).toEqual(['no WebSocket handshake answer within 0.15 s']);
  });

  it('an answer that never ends its headers is refused past 16 KiB', async () => {
    const c = client(await rawServer((s) => s.write(`HTTP/1.1 101 OK\r\nX: ${'a'.repeat(20_000)}`)));
    await c.closed;
    expect(c.errors[0]).toMatch(/no end of headers/);
  });

  it('parses an answer and frames that arrive one byte at a time', async () => {
    const url = await rawServer((s, key) => {
      const bytes = Buffer.concat([Buffer.from(accept(key), 'latin1'), frame(1, Buffer.from('héllo')), frame(1, Buffer.from('a'.repeat(300)))]);
      let i = 0;
      const drip = (): void => {
        if (i < bytes.length && !s.destroyed) s.write(bytes.subarray(i, ++i), () => setImmediate(drip));
      };
      drip();
    });
    const c = client(url);
    await until(() => c.messages.length === 2);
    expect(c.messages).toEqual(['héllo', 'a'.repeat(300)]);
  });

  const bad: Array<[string, Buffer, RegExp]> = [
    ['a masked frame', frame(1, Buffer.from('hi'), { masked: true }), /masked frame/],
    ['reserved bits (compression not agreed)', frame(1, Buffer.from('hi'), { rsv: 0x40 }), /reserved bits/],
    ['text that is not UTF-8', frame(1, Buffer.from([0xc3, 0x28])), /not UTF-8/],
    ['a continuation with nothing to continue', frame(0, Buffer.from('hi')), /continuation/],
    ['a fragmented ping', frame(9, Buffer.from('hi'), { fin: false }), /control frame/],
    ['an unknown opcode', frame(3, Buffer.from('hi')), /unknown opcode 3/],
    ['a message over the limit', frame(1, Buffer.alloc(2000, 0x61)), /larger than/],
  ];
  for (const [name, bytes, why] of bad) {
    it(`${name}: an error saying so, the connection closed (1006), nothing delivered`, async () => {
      let reply: Buffer | undefined;
      const url = await rawServer((s, key) => {
        s.on('data', (d: Buffer) => (reply = d));
        s.write(Buffer.concat([Buffer.from(accept(key), 'latin1'), bytes]));
      });
      const c = client(url, { maxMessageBytes: 1000 });
      expect((await c.closed).code).toBe(1006);
      expect(c.errors[0]).toMatch(why);
      expect(c.messages).toEqual([]);
      if (reply) expect((reply[0] ?? 0) & 0x0f).toBe(0x8); // what it sent back was a close frame
    });
  }
});

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}
