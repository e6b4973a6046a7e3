// Starts Debian's mosquitto on a free port with a config of the test's own, and stops it.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export interface Broker {
  url: string;
  port: number;
  stop(signal?: NodeJS.Signals): Promise<void>;
  restart(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export async function startBroker(dir: string, extra = 'allow_anonymous true\n'): Promise<Broker> {
  const port = await freePort();
  const conf = join(dir, `mosquitto-${port}.conf`);
  writeFileSync(conf, `listener ${port} 127.0.0.1\npersistence false\n${extra}`);
  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    const c = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    let log = '';
    c.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    const end = Date.now() + 5000;
    while (!log.includes('running')) {
      if (c.exitCode !== null || Date.now() > end) throw new Error(`mosquitto did not start: ${log}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await launch();
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise((r) => {
      c.once('exit', r);
      c.kill(signal);
    });
  };
  return { url: `mqtt://127.0.0.1:${port}`, port, stop, restart: async () => { await stop(); await launch(); } };
}
