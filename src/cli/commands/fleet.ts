// `flash-station fleet --mqtt URL [--port N]`: the fleet view of every station on a broker; runs until SIGINT/SIGTERM.
import { BIND_OPTIONS, bindFlags } from '../bind-flags.js';
import { parseArgs } from 'node:util';
import { EXIT, type CliIo } from '../io.js';

export const FLEET_HELP = `Usage: flash-station fleet --mqtt URL [options]

Shows every station that reports to the MQTT broker (serve --mqtt) on one page, and steers them.
  --mqtt URL                 mqtt://HOST[:PORT] or mqtts://HOST[:PORT]
  --host ADDR                bind address                          default 127.0.0.1
  --port N                   0 = any free port                     default 3002
  --mqtt-username U          broker user name
  --mqtt-password-file F     a file whose first line is the broker password
  --mqtt-protocol 5|3.1.1    MQTT version                          default 5
  --mqtt-ca, --mqtt-cert, --mqtt-key FILE   PEM files for mqtts://
  --allow-origin ORIGIN      accept browser pages from ORIGIN too (repeatable)
  --tls-cert FILE, --tls-key FILE   serve the view over HTTPS (PEM; docs/security.md)
  --public-name NAME         a name the view is reached by on the network, for the Host/Origin checks (repeatable)
  --insecure-no-tls          allow a non-loopback --host without TLS (only on a network you trust)
Prints \`ui http://HOST:PORT/?token=…\` (https:// with TLS);
GET /api/stations answers [{stationId, online, devices, jobs}]. A non-loopback --host needs TLS or --insecure-no-tls.
The view's token is $FLASH_FLEET_TOKEN, else a fresh random one each run.
`;

export async function fleetCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      mqtt: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'mqtt-username': { type: 'string' },
      'mqtt-password-file': { type: 'string' },
      'mqtt-protocol': { type: 'string' },
      'mqtt-ca': { type: 'string' },
      'mqtt-cert': { type: 'string' },
      'mqtt-key': { type: 'string' },
      'allow-origin': { type: 'string', multiple: true },
      ...BIND_OPTIONS,
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    io.stdout.write(FLEET_HELP);
    return EXIT.ok;
  }
  if (!values.mqtt) {
    io.stderr.write(`flash-station fleet: --mqtt URL is required.\n\n${FLEET_HELP}`);
    return EXIT.usage;
  }
  const port = values.port === undefined ? 3002 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    io.stderr.write(`flash-station fleet: --port must be 0–65535, not "${values.port}".\n`);
    return EXIT.usage;
  }
  const { startFleet } = await import('../../fleet/fleet-view.js');
  const { parseProtocolVersion } = await import('../../fleet/mqtt-options.js');
  let fleet;
  try {
    fleet = await startFleet({
      url: values.mqtt,
      host: values.host ?? '127.0.0.1',
      port,
      protocolVersion: parseProtocolVersion(values['mqtt-protocol']),
      allowOrigins: values['allow-origin'] ?? [],
      ...bindFlags(values),
      ...(values['mqtt-username'] !== undefined ? { username: values['mqtt-username'] } : {}),
      ...(values['mqtt-password-file'] !== undefined ? { passwordFile: values['mqtt-password-file'] } : {}),
      ...(values['mqtt-ca'] !== undefined ? { caFile: values['mqtt-ca'] } : {}),
      ...(values['mqtt-cert'] !== undefined ? { certFile: values['mqtt-cert'] } : {}),
      ...(values['mqtt-key'] !== undefined ? { keyFile: values['mqtt-key'] } : {}),
      warn: (line) => io.stderr.write(`flash-station fleet: ${line}\n`),
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const bad = (e as { code?: string }).code === 'bad_request';
    io.stderr.write(`flash-station fleet: ${err.code === 'EADDRINUSE' ? `port ${port} is in use (try --port 0)` : err.message}\n`);
    return bad ? EXIT.usage : EXIT.failed;
  }
  io.stdout.write(`ui ${fleet.uiUrl}\n`);
  const signal = await new Promise<string>((resolve) => {
    const off = io.onSignal((s) => {
      off();
      resolve(s);
    });
  });
  io.stderr.write(`flash-station fleet: ${signal}: stopping\n`);
  await fleet.close();
  return EXIT.ok;
}
