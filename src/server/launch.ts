/**
 * Composition root shared by `flash-station serve` and the Electron main process: builds the station core with its
 * candidate providers (USB, serial, block, network, simulators), loads the token and starts the HTTP/WebSocket server.
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { defaultDataDir } from '../core/data-dir.js';
import type { CandidateProvider } from '../contracts/provider.js';
import { createStation, type Station } from '../core/station.js';
import { createUsbProvider } from '../devices/usb-provider.js';
import { createNetworkProvider } from '../devices/network-provider.js';
import { NETWORK_FAMILY, SIMULATORS } from '../families.js';
import { createSimProvider } from '../sim/provider.js';
import { pageUrl, prepareBind } from './network-bind.js';
import { startServer } from './server.js';
import { defaultStaticDir } from './static-dir.js';
import { loadOrCreateToken } from './token.js';
import { addMetricsSource } from './metrics.js';
import type { StationLink, StationLinkOptions } from '../fleet/station-link.js';

export interface LaunchOptions {
  host?: string;
  port?: number;
  dataDir?: string;
  connect?: string[];
  sims?: string[];
  demo?: boolean;
  usb?: boolean;
  /** List USB serial ports of known bridges (`--no-serial` turns it off; `serialPorts` are offered anyway). */
  serial?: boolean;
  /** `--serial-port PATH[?protocol=&baud=]` (repeatable). */
  serialPorts?: string[];
  /** List removable disks (`--no-block` turns it off; `blockDevices` are offered anyway). */
  block?: boolean;
  /** `--block-device PATH` (repeatable). */
  blockDevices?: string[];
  /** The root helper to write disks through when the station may not (the desktop app sets the installed one). */
  blockHelper?: string;
  /** More candidate providers (tests, embedders), started after the built-in ones. */
  providers?: CandidateProvider[];
  allowOrigins?: string[];
  /** Where the built renderer lives; defaults to dist/renderer beside the bundle. */
  staticDir?: string;
  /** PEM files: serve HTTPS and WSS on the one port (contract §8). */
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** Names the station is reached by on the network (`--public-name`), for the Host and Origin checks. */
  publicNames?: string[];
  /** Allow a non-loopback `host` without TLS (`--insecure-no-tls`). */
  insecureNoTls?: boolean;
  /** `--outside-silence`: an outside agent's job with no event for this long ends as `lost` (default 2 minutes). */
  outsideSilenceMs?: number;
  /** `serve --mqtt …`: report to an MQTT broker (contract §9). */
  mqtt?: Omit<StationLinkOptions, 'dataDir'>;
}

export interface LaunchedStation {
  station: Station;
  /** `ws://HOST:PORT/flash-progress` (`wss://` with TLS) */
  url: string;
  /** `http://HOST:PORT/?token=…` */
  uiUrl: string;
  host: string;
  port: number;
  token: string;
  dataDir: string;
  /** The MQTT link, when `mqtt` was given. */
  mqtt?: StationLink;
  close(): Promise<void>;
}

/** Simulated devices for `--demo`: what each family's simulator offers (`SimulatorFactory.demo`). */
export const DEMO_SIMS: readonly string[] = SIMULATORS.flatMap((f) => f.demo ?? []);

export async function launchStation(options: LaunchOptions = {}): Promise<LaunchedStation> {
  const host = options.host ?? '127.0.0.1';
  const tls = await prepareBind({
    host, what: 'the station', tlsCertFile: options.tlsCertFile, tlsKeyFile: options.tlsKeyFile, insecureNoTls: options.insecureNoTls,
    publicNames: options.publicNames,
  });
  const dataDir = resolve(options.dataDir ?? defaultDataDir());
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const token = await loadOrCreateToken(dataDir);

  const providers: CandidateProvider[] = [];
  if (options.usb !== false) providers.push(createUsbProvider());
  if (options.serial !== false || options.serialPorts?.length) {
    const { createSerialProvider } = await import('../devices/serial-provider.js');
    providers.push(createSerialProvider({ ports: options.serialPorts ?? [], discover: options.serial !== false }));
  }
  if (options.block !== false || options.blockDevices?.length) {
    const { createBlockProvider } = await import('../devices/block-provider.js');
    providers.push(createBlockProvider({
      devices: options.blockDevices ?? [], discover: options.block !== false, ...(options.blockHelper ? { helper: options.blockHelper } : {}),
    }));
  }
  if (options.connect?.length) {
    providers.push(createNetworkProvider(options.connect, { defaultPort: NETWORK_FAMILY.defaultPort, protocol: NETWORK_FAMILY.protocol }));
  }
  const sims = [...(options.sims ?? []), ...(options.demo ? DEMO_SIMS : [])];
  if (sims.length) providers.push(createSimProvider(sims, { dataDir, factories: SIMULATORS, ...(options.demo ? { demo: true } : {}) }));
  providers.push(...(options.providers ?? []));

  const station = await createStation({
    dataDir, providers,
    ...(options.outsideSilenceMs !== undefined ? { external: { silenceMs: options.outsideSilenceMs } } : {}),
  });
  let server;
  try {
    server = await startServer(station, {
      host,
      port: options.port ?? 3001,
      dataDir,
      token,
      allowOrigins: options.allowOrigins ?? [],
      staticDir: options.staticDir ?? defaultStaticDir(),
      ...(tls ? { tls } : {}),
      publicNames: options.publicNames ?? [],
    });
  } catch (e) {
    await station.close();
    throw e;
  }
  let link: StationLink | undefined;
  if (options.mqtt) {
    try {
      const [{ StationLink: Link }, { renderLinkMetrics }, { followToken }] = await Promise.all([
        import('../fleet/station-link.js'), import('../fleet/link-metrics.js'), import('../fleet/token-follower.js'),
      ]);
      const created = new Link({ ...options.mqtt, dataDir }, { station, checkToken: followToken(dataDir, token) });
      link = created;
      addMetricsSource(station, () => renderLinkMetrics(created));
    } catch (e) {
      await station.close();
      await server.close();
      throw e;
    }
  }
  return {
    station,
    url: server.url,
    uiUrl: pageUrl(host, options.publicNames, server.port, tls !== undefined, token),
    host,
    port: server.port,
    token,
    dataDir,
    ...(link ? { mqtt: link } : {}),
    async close() {
      // Station first: its cancellations reach the clients (and the broker) before the server hangs up on them.
      await station.close();
      await link?.close();
      await server.close();
    },
  };
}
