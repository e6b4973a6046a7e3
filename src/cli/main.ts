/**
 * The `flash-station` command line: `serve`, `flash`, `devices`, `jobs`, `watch`, `sim FAMILY` (contract §1).
 * `main(argv)` returns the exit status; bin/flash-station.cjs sets it.
 */
// Each command is imported when it runs: `flash` must not pay for the station, history and server (`serve`) at start.
// The build (scripts/cli-build.mjs) points the imports of serve, fleet and sim at their own ES module entries.
import { MAIN_HELP, SIM_HELP } from './help.js';
import { EXIT, processIo, type CliIo } from './io.js';
import { CLI_VERSION } from './version.js';

export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        io.stdout.write(MAIN_HELP);
        return command === undefined ? EXIT.usage : EXIT.ok;
      case '-v':
      case '--version':
      case 'version':
        io.stdout.write(`${CLI_VERSION}\n`);
        return EXIT.ok;
      case 'serve':
        return await (await import('./commands/serve.js')).serveCommand(rest, io);
      case 'flash':
        return await (await import('./commands/flash.js')).flashCommand(rest, io);
      case 'devices':
        return await (await import('./commands/list.js')).devicesCommand(rest, io);
      case 'jobs':
        return await (await import('./commands/list.js')).jobsCommand(rest, io);
      case 'watch':
        return await (await import('./commands/watch.js')).watchCommand(rest, io);
      case 'fleet':
        return await (await import('./commands/fleet.js')).fleetCommand(rest, io);
      case 'pause':
      case 'resume':
      case 'cancel':
        return await (await import('./commands/control.js')).controlCommand(command, rest, io);
      case 'sim': {
        // The family's own simulator command (src/families.ts SIMULATORS); its flags and --help are its own.
        const { runSimCli, simCliFamilies } = await import('../sim/cli.js');
        const lines = { out: (l: string) => io.stdout.write(`${l}\n`), err: (l: string) => io.stderr.write(`${l}\n`) };
        const status = await runSimCli(rest, lines);
        if (status !== undefined) return status;
        const asked = rest[0] === '--help' || rest[0] === '-h';
        io[asked ? 'stdout' : 'stderr'].write(`${SIM_HELP}Families: ${simCliFamilies().join(', ')}\n`);
        return asked ? EXIT.ok : EXIT.usage;
      }
      default:
        io.stderr.write(`flash-station: unknown command "${command}".\n\n${MAIN_HELP}`);
        return EXIT.usage;
    }
  } catch (e) {
    const err = e as Error & { exit?: number; code?: string };
    if (err.code?.startsWith('ERR_PARSE_ARGS')) {
      // A password on the command line is readable by every user (ps); say where it goes instead.
      const hint = err.message.includes("'--mqtt-password'")
        ? 'The broker password is never taken on the command line: put it in a file and pass --mqtt-password-file FILE.\n'
        : '';
      io.stderr.write(`flash-station ${command}: ${err.message}\n${hint}Run flash-station ${command} --help for usage.\n`);
      return EXIT.usage;
    }
    io.stderr.write(`flash-station ${command}: ${err.message}\n`);
    return err.exit ?? EXIT.failed;
  }
}
