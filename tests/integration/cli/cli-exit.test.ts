// `flash-station` ends when its command has finished even if something is still open: here a preloaded listening
// socket that nothing ever closes stands for a device peer that never closes its side. `serve` told to stop stops.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../../..');
const dir = mkdtempSync(join(tmpdir(), 'fs-cli-exit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('flash-station exits after its command', () => {
  it('serve stops on SIGTERM although a handle outlives the station, and says so', async () => {
    const leak = join(dir, 'leak.cjs');
    writeFileSync(leak, "require('node:net').createServer().listen(0, '127.0.0.1');\n");
    const child = spawn(process.execPath, ['-r', leak, join(root, 'bin/flash-station.cjs'), 'serve', '--port', '0', '--data-dir', join(dir, 'data'), '--no-usb', '--no-serial', '--no-block'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await expect.poll(() => stdout, { timeout: 20_000 }).toContain('listening ');
    const stoppedAt = Date.now();
    child.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 15_000))]);
    if (code === 'hung') child.kill('SIGKILL');
    expect(code).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(15_000);
    expect(stderr).toContain('something was still open 3 s after the command finished; exiting anyway');
  }, 40_000);
});
