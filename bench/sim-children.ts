// Child mode of the serial benches: standalone simulators (`flash-station sim FAMILY --tty …`) on pty ends.
import { runSimCli } from '../src/sim/cli.js';

/**
 * One standalone simulator of `family` per `TTY=STORE` spec, each with `flags`; prints `ready` once all listen, runs
 * until SIGTERM, then exits.
 */
export async function serveSimsOnTtys(family: string, specs: string[], flags: string[]): Promise<never> {
  const stop = new AbortController();
  process.on('SIGTERM', () => stop.abort());
  const ends = specs.map((spec) => {
    const [tty = '', store = ''] = spec.split('=');
    let ready: () => void = () => undefined;
    const isReady = new Promise<void>((r) => (ready = r));
    const done = runSimCli([family, '--tty', tty, '--store', store, ...flags], {
      out: (l) => (l.startsWith('ready') ? ready() : undefined),
      err: () => undefined,
      signal: stop.signal,
    });
    return { isReady, done };
  });
  await Promise.all(ends.map((e) => e.isReady));
  process.stdout.write('ready\n');
  await Promise.all(ends.map((e) => e.done));
  process.exit(0);
}
