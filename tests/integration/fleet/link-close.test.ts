// StationLink.close() ends even when the broker never acknowledges what is in flight (stalled, or gone). MQTT.js's
// graceful end waits for those acknowledgements forever: the closer then hung, and everything it still held (the
// station, its simulated devices and their open partition files) was later garbage-collected unclosed — Node's
// "Closing file descriptor N on garbage collection" in the fleet bench.
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { StationLink } from '../../../src/fleet/station-link.js';
import { until } from '../../helpers/until.js';
import { later, station, tempDir } from './harness.js';

/** A broker that accepts MQTT 5 connections (CONNACK) and never answers anything else. */
async function silentBroker(): Promise<{ url: string; server: Server; sockets: Set<Socket>; publishes: () => number }> {
  const sockets = new Set<Socket>();
  let publishes = 0;
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let connected = false;
    s.on('data', (d: Buffer) => {
      if (!connected && (d[0] ?? 0) >> 4 === 1) {
        connected = true;
        s.write(Buffer.from([0x20, 0x03, 0x00, 0x00, 0x00])); // CONNACK, success, no properties
      }
      for (const b of d) if (b >> 4 === 3 && (b & 0x06) === 0x02) publishes++; // (a rough count: a QoS 1 PUBLISH seen)
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const a = server.address();
  const port = typeof a === 'object' && a ? a.port : 0;
  later(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { url: `mqtt://127.0.0.1:${port}`, server, sockets, publishes: () => publishes };
}

/** Resolves to 'closed', or to 'hung' when `p` has not settled within `ms`. */
async function settles(p: Promise<void>, ms: number): Promise<'closed' | 'hung'> {
  let t: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((r) => (t = setTimeout(() => r('hung'), ms)));
  try {
    return await Promise.race([p.then(() => 'closed' as const), hung]);
  } finally {
    clearTimeout(t);
  }
}

describe('StationLink.close with unacknowledged publications', () => {
  for (const broker of ['stalled (connected, never acks)', 'gone (connection dropped, nothing listening)'] as const) {
    it(`ends when the broker is ${broker}`, async () => {
      const dir = tempDir();
      const fake = await silentBroker();
      const st = await station(dir, 'LC1');
      const l = new StationLink({ url: fake.url, stationId: 'LC1', commands: true, dataDir: `${dir}/LC1`, reconnectMs: 100 }, { station: st, checkToken: () => false });
      later(() => l.destroy());
      await until(() => l.state === 'connected' && fake.publishes() > 0, 5000, 'link up, status in flight');
      if (broker.startsWith('gone')) {
        fake.server.close();
        for (const s of fake.sockets) s.destroy();
        await until(() => l.state !== 'connected', 5000, `link down (${l.state})`);
      }
      // drainMs 100, plus at most 1 s for the offline status: well under 8 s unless it waits for acks forever.
      expect(await settles(l.close(100), 8000)).toBe('closed');
      expect(l.state).toBe('closed');
    });
  }
});
