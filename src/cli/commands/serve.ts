// `flash-station serve`: launches the station and runs until SIGINT/SIGTERM, then shuts it down cleanly.
import { BIND_OPTIONS, bindFlags } from '../bind-flags.js';
import { parseArgs } from 'node:util';
import { EXIT, type CliIo } from '../io.js';
import { SERVE_HELP } from '../help.js';

/** Longest a stop may take before serve gives up waiting (its parts are bounded well below this). */
const CLOSE_BOUND_MS = 40_000;

export async function serveCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'data-dir': { type: 'string' },
      connect: { type: 'string', multiple: true },
      sim: { type: 'string', multiple: true },
      demo: { type: 'boolean' },
      'no-usb': { type: 'boolean' },
      'no-serial': { type: 'boolean' },
      'serial-port': { type: 'string', multiple: true },
      'no-block': { type: 'boolean' },
      'block-device': { type: 'string', multiple: true },
      'allow-origin': { type: 'string', multiple: true },
      'static-dir': { type: 'string' },
      ...BIND_OPTIONS,
      'outside-silence': { type: 'string' },
      mqtt: { type: 'string' },
      'station-id': { type: 'string' },
      'mqtt-username': { type: 'string' },
      'mqtt-password-file': { type: 'string' },
      'mqtt-commands': { type: 'boolean' },
      'mqtt-protocol': { type: 'string' },
      'mqtt-ca': { type: 'string' },
      'mqtt-cert': { type: 'string' },
      'mqtt-key': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    io.stdout.write(SERVE_HELP);
    return EXIT.ok;
  }
  const port = values.port === undefined ? 3001 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    io.stderr.write(`flash-station serve: --port must be 0–65535, not "${values.port}".\n`);
    return EXIT.usage;
  }
  const silence = values['outside-silence'] === undefined ? undefined : Number(values['outside-silence']);
  if (silence !== undefined && !(Number.isFinite(silence) && silence >= 1 && silence <= 86_400)) {
    io.stderr.write(`flash-station serve: --outside-silence must be 1–86400 seconds, not "${values['outside-silence']}".\n`);
    return EXIT.usage;
  }
  const serialPorts = values['serial-port'] ?? [];
  try {
    // Checked before anything starts, so a typo is a usage error naming the key, not a station that never sees the port.
    const { parseSerialPortSpec } = await import('../../devices/serial-provider.js');
    for (const spec of serialPorts) parseSerialPortSpec(spec);
  } catch (e) {
    io.stderr.write(`flash-station serve: ${(e as Error).message}\n`);
    return EXIT.usage;
  }
  let mqtt;
  try {
    mqtt = await (await import('../../fleet/serve-options.js')).mqttServeOptions(values);
  } catch (e) {
    io.stderr.write(`flash-station serve: ${(e as Error).message}\n`);
    return EXIT.usage;
  }
  const { launchStation } = await import('../../server/launch.js');
  let launched;
  try {
    launched = await launchStation({
      host: values.host ?? '127.0.0.1',
      port,
      ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}),
      connect: values.connect ?? [],
      sims: values.sim ?? [],
      demo: values.demo ?? false,
      usb: !values['no-usb'],
      serial: !values['no-serial'],
      serialPorts,
      block: !values['no-block'],
      blockDevices: values['block-device'] ?? [],
      allowOrigins: values['allow-origin'] ?? [],
      ...(values['static-dir'] ? { staticDir: values['static-dir'] } : {}),
      ...bindFlags(values),
      ...(silence !== undefined ? { outsideSilenceMs: silence * 1000 } : {}),
      ...(mqtt ? { mqtt: { ...mqtt, warn: (line: string) => io.stderr.write(`flash-station serve: ${line}\n`) } } : {}),
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'EADDRINUSE' ? `port ${port} is in use (another station? try --port 0)` : err.message;
    io.stderr.write(`flash-station serve: cannot start: ${why}\n`);
    // Flags that cannot work together (a LAN --host without TLS, a bad --public-name) are bad usage, as for `fleet`.
    return (e as { code?: string }).code === 'bad_request' ? EXIT.usage : EXIT.failed;
  }
  io.stdout.write(`listening ${launched.url}\n`);
  io.stdout.write(`ui ${launched.uiUrl}\n`);
  if (launched.mqtt) io.stdout.write(`mqtt ${mqtt?.url} station ${launched.mqtt.stationId}\n`);
  if (launched.station.dataDirWarning) io.stderr.write(`flash-station serve: warning: ${launched.station.dataDirWarning}\n`);
  for (const problem of launched.station.providerProblems ?? []) io.stderr.write(`flash-station serve: warning: ${problem}\n`);
  if (launched.station.historyRecovered) io.stderr.write(`flash-station serve: warning: ${launched.station.historyRecovered}\n`);
  if (launched.station.interruptedAtStart) {
    io.stderr.write(`flash-station serve: ${launched.station.interruptedAtStart} job(s) were running when the station last stopped; they are marked interrupted in history\n`);
  }
  const signal = await new Promise<string>((resolve) => {
    const off = io.onSignal((s) => {
      off();
      resolve(s);
    });
  });
  io.stderr.write(`flash-station: ${signal}: stopping — cancelling running jobs and closing the history database\n`);
  // A second signal while closing forces the exit.
  const offForce = io.onSignal(() => process.exit(EXIT.cancelled));
  let bound: ReturnType<typeof setTimeout> | undefined;
  try {
    // launched.close() closes the station first, so every client still hears its jobs end, then the server. Its own
    // waits are bounded (jobs 10 s, record hashes 15 s); past CLOSE_BOUND_MS something is stuck, and a station told to
    // stop must stop all the same.
    const stuck = new Promise<'stuck'>((resolve) => {
      bound = setTimeout(() => resolve('stuck'), CLOSE_BOUND_MS);
      bound.unref();
    });
    if ((await Promise.race([launched.close(), stuck])) === 'stuck') {
      io.stderr.write(`flash-station: the station did not finish stopping within ${CLOSE_BOUND_MS / 1000} s; exiting anyway\n`);
      return EXIT.failed;
    }
  } finally {
    clearTimeout(bound);
    offForce();
  }
  return EXIT.ok;
}
