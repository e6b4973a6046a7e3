// Network devices (`--connect tcp:HOST[:PORT]` / `udp:HOST[:PORT]`): offered when they answer, withdrawn when the
// connection drops (a reboot), and polled until they answer again. Whether an endpoint answers is learnt over the
// link of the family that claims it (sink.linkFor); a provider never speaks a device protocol itself.
import type { DeviceProtocol } from '../protocol/messages.js';
import type { NetworkCandidate } from '../contracts/family.js';
import { isStreamLink, type Transport } from '../contracts/links.js';
import type { CandidateProvider, CandidateSink } from '../contracts/provider.js';
import { parseNetworkUri, type NetworkTarget } from './network-uri.js';

export interface NetworkProviderOptions {
  /** How often an absent device is tried, and a present one checked, in ms (default 1000). */
  pollMs?: number;
  /** Port of an address that gives none (the family's usual port; families.ts says which). */
  defaultPort?: number;
  /** The family `--connect` devices belong to (contract §1; families.ts NETWORK_FAMILY); set on every candidate. */
  protocol?: DeviceProtocol;
}

export function createNetworkProvider(uris: string[], options: NetworkProviderOptions = {}): CandidateProvider {
  const targets = dedupe(uris.map((u) => parseNetworkUri(u, options.defaultPort)));
  const pollMs = options.pollMs ?? 1000;
  const watchers: Array<{ stop(): Promise<void> }> = [];

  return {
    name: 'network',
    async start(sink: CandidateSink): Promise<void> {
      for (const target of targets) watchers.push(watch(candidateOf(target, options.protocol), sink, pollMs));
    },
    async stop(): Promise<void> {
      const all = watchers.splice(0);
      await Promise.all(all.map((w) => w.stop()));
    },
  };
}

function candidateOf(t: NetworkTarget, protocol: DeviceProtocol | undefined): NetworkCandidate {
  return {
    kind: 'network',
    key: t.id,
    transport: t.transport,
    scheme: t.transport,
    host: t.host,
    port: t.id.slice(t.transport.length + 1),
    ...(t.port !== undefined ? { netPort: t.port } : {}),
    ...(protocol ? { protocol } : {}),
  };
}

function dedupe(targets: NetworkTarget[]): NetworkTarget[] {
  const seen = new Map<string, NetworkTarget>();
  for (const t of targets) if (!seen.has(t.id)) seen.set(t.id, t);
  return [...seen.values()];
}

function watch(candidate: NetworkCandidate, sink: CandidateSink, pollMs: number): { stop(): Promise<void> } {
  const link = sink.linkFor?.(candidate);
  if (!link || !isStreamLink(link)) {
    // No family that talks over a stream claims it: offer it once and let the registry say so.
    sink.offer(candidate);
    return { stop: async () => sink.withdraw(candidate.key) };
  }
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
      sink.withdraw(candidate.key);
    }
    try {
      live = await link.open(ac.signal);
    } catch {
      return; // not answering yet
    }
    if (ac.signal.aborted) return;
    sink.offer(candidate);
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
      if (live) sink.withdraw(candidate.key);
      live = undefined;
    },
  };
}
