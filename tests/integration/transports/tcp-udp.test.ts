// The TCP and UDP transports against device peers on real loopback sockets: handshake, framing, packet splitting,
// retransmission, and clear errors when nobody answers.
import { afterEach, describe, expect, it } from 'vitest';
import { FlashError } from '../../../src/core/errors.js';
import { createFastbootTcpLink } from '../../../src/transports/fastboot-tcp.js';
import { createFastbootUdpLink } from '../../../src/transports/fastboot-udp.js';
import { startTcpPeer, startUdpPeer, type TcpPeer, type UdpPeer } from './peers.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const okay = (m: Uint8Array): Uint8Array[] => [enc('INFOgot ' + m.length), enc('OKAY' + (dec(m.subarray(0, 20)).startsWith('getvar') ? 'sim' : ''))];

describe('tcp transport', () => {
  it('handshakes, frames each write as one message and reads replies one message at a time', async () => {
    const peer: TcpPeer = await startTcpPeer(okay);
    cleanups.push(() => peer.close());
    const link = createFastbootTcpLink('127.0.0.1', peer.port);
    cleanups.push(() => link.close());
    const t = await link.open();
    expect(t.kind).toBe('tcp');
    await t.write(enc('getvar:product'));
    expect(dec(await t.read(256))).toBe('INFOgot 14');
    expect(dec(await t.read(256))).toBe('OKAYsim');
    const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => i & 0xff);
    await t.write(big);
    await t.drain();
    expect(dec(await t.read(256))).toBe(`INFOgot ${big.length}`);
    expect(dec(await t.read(256))).toBe('OKAY');
    expect(peer.received[1]?.length).toBe(big.length);
    expect(peer.received[1]?.[1000]).toBe(1000 & 0xff);
    expect(await link.open()).toBe(t);
  });

  it('times out a read with a FlashError naming the device', async () => {
    const peer = await startTcpPeer(() => []);
    cleanups.push(() => peer.close());
    const link = createFastbootTcpLink('127.0.0.1', peer.port, { timeoutMs: 300 });
    cleanups.push(() => link.close());
    const t = await link.open();
    await t.write(enc('getvar:x'));
    await expect(t.read(256)).rejects.toMatchObject({ code: 'timeout', message: expect.stringContaining(`tcp:127.0.0.1:${peer.port}`) });
  });

  it('reports a dropped connection as disconnected, and reconnects on the next open', async () => {
    const peer = await startTcpPeer(okay);
    cleanups.push(() => peer.close());
    const link = createFastbootTcpLink('127.0.0.1', peer.port);
    cleanups.push(() => link.close());
    const t = await link.open();
    const pending = t.read(256);
    peer.sockets[0]?.destroy();
    await expect(pending).rejects.toMatchObject({ code: 'disconnected', transient: true });
    expect(t.closed).toBe(true);
    const t2 = await link.open();
    expect(t2).not.toBe(t);
    await t2.write(enc('getvar:product'));
    expect(dec(await t2.read(256))).toBe('INFOgot 14');
  });

  it('refuses a peer that does not speak the fastboot handshake', async () => {
    const peer = await startTcpPeer(okay, 'HTTP');
    cleanups.push(() => peer.close());
    const link = createFastbootTcpLink('127.0.0.1', peer.port);
    await expect(link.open()).rejects.toMatchObject({ code: 'protocol_error' });
  });

  it('says the device is unreachable when nothing listens', async () => {
    const peer = await startTcpPeer(okay);
    const port = peer.port;
    await peer.close();
    await expect(createFastbootTcpLink('127.0.0.1', port).open()).rejects.toMatchObject({ code: 'unreachable' });
  });
});

describe('udp transport', () => {
  it('queries, inits, splits writes into acknowledged packets and pulls replies', async () => {
    const peer: UdpPeer = await startUdpPeer(okay, 512);
    cleanups.push(() => peer.close());
    const link = createFastbootUdpLink('127.0.0.1', peer.port, { retransmitMs: 100 });
    cleanups.push(() => link.close());
    const t = await link.open();
    expect(t.kind).toBe('udp');
    await t.write(enc('getvar:product'));
    expect(dec(await t.read(256))).toBe('INFOgot 14');
    expect(dec(await t.read(256))).toBe('OKAYsim');
    const data = new Uint8Array(5000).map((_, i) => (i * 7) & 0xff);
    await t.write(data);
    expect(dec(await t.read(256))).toBe('INFOgot 5000');
    expect([...(peer.received[1] ?? [])]).toEqual([...data]);
    // 5000 bytes in packets of at most 508 payload bytes: 10 packets.
    expect(peer.packetsSeen).toBeGreaterThanOrEqual(1 + 1 + 2 + 10);
  });

  it('retransmits a lost packet after the interval', async () => {
    const peer = await startUdpPeer(okay);
    cleanups.push(() => peer.close());
    const link = createFastbootUdpLink('127.0.0.1', peer.port, { retransmitMs: 100 });
    cleanups.push(() => link.close());
    const t = await link.open();
    peer.dropNext = 2;
    const started = Date.now();
    await t.write(enc('getvar:product'));
    expect(Date.now() - started).toBeGreaterThanOrEqual(180);
    expect(dec(await t.read(256))).toBe('INFOgot 14');
    expect(peer.received.length).toBe(1);
  });

  it('waits 500 ms before retransmitting when not told otherwise, and resends the same packet', async () => {
    const peer = await startUdpPeer(okay);
    cleanups.push(() => peer.close());
    const link = createFastbootUdpLink('127.0.0.1', peer.port);
    cleanups.push(() => link.close());
    const t = await link.open();
    peer.dropNext = 1;
    const started = Date.now();
    await t.write(enc('getvar:product'));
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(490);
    expect(waited).toBeLessThan(2000);
    expect(dec(await t.read(256))).toBe('INFOgot 14');
    // Delivered once, though sent twice.
    expect(peer.received.length).toBe(1);
    expect(dec(peer.received[0] ?? new Uint8Array())).toBe('getvar:product');
  });

  it('gives up after a bounded number of tries with a clear error', async () => {
    const peer = await startUdpPeer(() => []);
    cleanups.push(() => peer.close());
    const link = createFastbootUdpLink('127.0.0.1', peer.port, { retransmitMs: 100, timeoutMs: 500 });
    cleanups.push(() => link.close());
    const t = await link.open();
    await t.write(enc('getvar:x'));
    const err = await t.read(256).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FlashError);
    expect((err as FlashError).code).toBe('timeout');
    expect((err as FlashError).message).toMatch(/No answer from udp:127\.0\.0\.1:\d+ after 5 tries/);
  });

  it('says nobody answers the query when no device listens', async () => {
    const peer = await startUdpPeer(okay);
    const port = peer.port;
    await peer.close();
    const err = await createFastbootUdpLink('127.0.0.1', port, { retransmitMs: 100, connectAttempts: 2 }).open().catch((e: unknown) => e);
    expect((err as FlashError).code).toMatch(/unreachable|disconnected/);
  });
});
