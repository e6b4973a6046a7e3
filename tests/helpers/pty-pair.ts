// A socat pseudo-terminal pair for serial tests: two linked ttys in a temp dir, closed (and socat stopped) by close().
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PtyPair {
  /** The end a host (driver, stm32flash) opens. */
  host: string;
  /** The end a simulator opens. */
  device: string;
  /** Stop socat: both ends vanish, as an unplugged adapter does. */
  close(): Promise<void>;
}

export async function ptyPair(): Promise<PtyPair> {
  const dir = mkdtempSync(join(tmpdir(), 'fs-pty-'));
  const host = join(dir, 'host');
  const device = join(dir, 'device');
  const child: ChildProcess = spawn('socat', [`pty,raw,echo=0,link=${host}`, `pty,raw,echo=0,link=${device}`], { stdio: 'ignore' });
  const started = Date.now();
  while (!(existsSync(host) && existsSync(device))) {
    if (child.exitCode !== null) throw new Error(`socat exited with ${child.exitCode}`);
    if (Date.now() - started > 5000) {
      child.kill();
      throw new Error('socat did not create the pty pair within 5 s');
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  let closed = false;
  return {
    host,
    device,
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill();
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
