// Network fastboot devices (`--connect tcp:HOST[:PORT]` / `udp:HOST[:PORT]`): attach when they answer, detach when
// the connection drops (a reboot), and poll until they answer again.
import type { DeviceLink, Transport } from '../contracts/links.js';
import type { AttachedDevice, DeviceProvider, DeviceSink, Driver } from '../core/types.js';
import { fastbootDriver } from '../drivers/fastboot/index.js';
import { createTcpLink } from '../transports/tcp.js';
import { createUdpLink } from '../transports/udp.js';
import { parseNetworkUri, type NetworkTarget } from './network-uri.js';

export interface NetworkProviderOptions {
  driver?: Driver;
  /** How often an absent device is tried, and a present one checked, in ms (default 1000). */
  pollMs?: number;
  /** Deadline for each attempt to connect, in ms (default 2000). */
  connectTimeoutMs?: number;
  /** Deadline for answers once connected, in ms (default 30 s). */
  timeoutMs?: number;
}

export function createNetworkProvider(uris: string[], options: NetworkProviderOptions = {}): DeviceProvider {
  const targets = dedupe(uris.map(parseNetworkUri));
  const driver = options.driver ?? fastbootDriver;
  const pollMs = options.pollMs ?? 1000;
  const watchers: Array<{ stop(): Promise<void> }> = [];

  return {
    name: 'network',
    async start(sink: DeviceSink): Promise<void> {
      for (const target of targets) watchers.push(watch(target, sink, driver, pollMs, options));
    },
    async stop(): Promise<void> {
      const all = watchers.splice(0);
      await Promise.all(all.map((w) => w.stop()));
    },
  };
}

function dedupe(targets: NetworkTarget[]): NetworkTarget[] {
  const seen = new Map<string, NetworkTarget>();
  for (const t of targets) if (!seen.has(t.id)) seen.set(t.id, t);
  return [...seen.values()];
}

function makeLink(target: NetworkTarget, options: NetworkProviderOptions): DeviceLink {
  const timeoutMs = options.timeoutMs ?? 30_000;
  return target.transport === 'tcp'
    ? createTcpLink(target.host, target.port, { timeoutMs, connectTimeoutMs: options.connectTimeoutMs ?? 2000 })
    : createUdpLink(target.host, target.port, { timeoutMs, connectAttempts: Math.max(1, Math.round((options.connectTimeoutMs ?? 2000) / 500)) });
}

function watch(target: NetworkTarget, sink: DeviceSink, driver: Driver, pollMs: number, options: NetworkProviderOptions): { stop(): Promise<void> } {
  const link = makeLink(target, options);
  const ac = new AbortController();
  let live: Transport | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> = Promise.resolve();

  const tick = async (): Promise<void> => {
    if (ac.signal.aborted) return;
    if (live) {
      if (!live.closed) return;
      // The connection dropped (reboot, unplugged cable, failed download): gone until it answers again.
      live = undefined;
      sink.detach(target.id);
    }
    try {
      live = await link.open(ac.signal);
    } catch {
      return; // not answering yet
    }
    if (ac.signal.aborted) return;
    const attached: AttachedDevice = {
      device: {
        id: target.id,
        protocol: 'fastboot',
        transport: target.transport,
        name: `fastboot ${target.id}`,
        serial: '',
        port: target.id.slice(4),
        info: { host: target.host, port: target.port },
      },
      driver,
      link,
    };
    sink.attach(attached);
  };

  const loop = (): void => {
    running = tick().finally(() => {
      if (!ac.signal.aborted) timer = setTimeout(loop, pollMs);
    });
  };
  loop();

  return {
    async stop(): Promise<void> {
      ac.abort();
      if (timer) clearTimeout(timer);
      await running.catch(() => undefined);
      if (live) sink.detach(target.id);
      live = undefined;
      await link.close();
    },
  };
}
