/**
 * The `flash-station` command line: `serve`, `flash`, `devices`, `jobs`, `watch`, `sim fastboot` (contract §1).
 * `main(argv)` returns the exit status; bin/flash-station.js sets it.
 */
import { controlCommand } from './commands/control.js';
import { devicesCommand, jobsCommand } from './commands/list.js';
import { flashCommand } from './commands/flash.js';
import { serveCommand } from './commands/serve.js';
import { watchCommand } from './commands/watch.js';
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
        return await serveCommand(rest, io);
      case 'flash':
        return await flashCommand(rest, io);
      case 'devices':
        return await devicesCommand(rest, io);
      case 'jobs':
        return await jobsCommand(rest, io);
      case 'watch':
        return await watchCommand(rest, io);
      case 'pause':
      case 'resume':
      case 'cancel':
        return await controlCommand(command, rest, io);
      case 'sim': {
        if (rest[0] !== 'fastboot' || rest.includes('--help') || rest.includes('-h')) {
          io[rest[0] === 'fastboot' ? 'stdout' : 'stderr'].write(SIM_HELP);
          return rest[0] === 'fastboot' ? EXIT.ok : EXIT.usage;
        }
        const { runFastbootSimCli } = await import('../sim/index.js');
        return await runFastbootSimCli(rest.slice(1));
      }
      default:
        io.stderr.write(`flash-station: unknown command "${command}".\n\n${MAIN_HELP}`);
        return EXIT.usage;
    }
  } catch (e) {
    const err = e as Error & { exit?: number; code?: string };
    if (err.code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`flash-station ${command}: ${err.message}\nRun flash-station ${command} --help for usage.\n`);
      return EXIT.usage;
    }
    io.stderr.write(`flash-station ${command}: ${err.message}\n`);
    return err.exit ?? EXIT.failed;
  }
}
