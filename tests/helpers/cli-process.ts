// `flash-station ARGS` as its own process, from a bundle of src/cli (the tests build it with esbuild): its stdout lines
// as they come, its stderr, a promise for the first `readyLines` lines, and its exit code.
import { spawn, type ChildProcess } from 'node:child_process';

export interface CliProcess {
  child: ChildProcess;
  lines: string[];
  stderr: () => string;
  ready: Promise<void>;
  exit: Promise<number | null>;
}

export function spawnCli(bundle: string, args: string[], readyLines: number, cwd: string): CliProcess {
  const child = spawn(process.execPath, ['--input-type=module', '-e',
    'const { main } = await import(process.argv[1]); process.exitCode = await main(process.argv.slice(2));', bundle, ...args],
  { cwd, env: { ...process.env, FLASH_STATION_TOKEN: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let err = '';
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const ready = new Promise<void>((resolveReady, reject) => {
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const parts = buf.split('\n');
      buf = parts.pop()!;
      lines.push(...parts);
      if (lines.length >= readyLines) resolveReady();
    });
    void exit.then((code) => reject(new Error(`${args.slice(0, 2).join(' ')} exited ${code}: ${err}`)));
  });
  ready.catch(() => undefined);
  return { child, lines, stderr: () => err, ready, exit };
}
