// `flash-station sim fastboot`: flags, the "listening" lines, AOSP fastboot against both sockets, clean stop.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFastbootSimCli } from '../../../src/sim/fastboot/index.js';

const run = promisify(execFile);
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sim-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('runFastbootSimCli', () => {
  it('rejects bad usage with status 2 and a message naming the problem', async () => {
    const errs: string[] = [];
    const io = { out: () => undefined, err: (l: string) => errs.push(l) };
    expect(await runFastbootSimCli(['fastboot', '--serial', 'X'], io)).toBe(2);
    expect(errs.join('\n')).toMatch(/give --tcp PORT and\/or --udp PORT/);
    expect(await runFastbootSimCli(['--tcp', '0', '--partition', 'boot'], io)).toBe(2);
    expect(errs.join('\n')).toMatch(/NAME:SIZE/);
    expect(await runFastbootSimCli(['--tcp', 'x'], io)).toBe(2);
    expect(await runFastbootSimCli(['--bogus'], io)).toBe(2);
  });

  it('serves TCP and UDP, prints one listening line per socket, and AOSP fastboot flashes through both', async () => {
    const lines: string[] = [];
    const ac = new AbortController();
    let ready: () => void = () => undefined;
    const listening = new Promise<void>((r) => (ready = r));
    const store = join(dir, 'store');
    const done = runFastbootSimCli(
      ['--tcp', '0', '--udp', '0', '--serial', 'CLI01', '--partition', 'boot=2M', '--partition', 'system=8M',
        '--max-download', '1M', '--store', store, '--slots', '--speed', '200M'],
      {
        out: (l) => {
          lines.push(l);
          if (lines.length === 2) ready();
        },
        err: () => undefined,
        signal: ac.signal,
      },
    );
    await listening;
    expect(lines[0]).toMatch(/^listening tcp:127\.0\.0\.1:\d+$/);
    expect(lines[1]).toMatch(/^listening udp:127\.0\.0\.1:\d+$/);
    const tcp = lines[0]!.slice('listening '.length);
    const udp = lines[1]!.slice('listening '.length);
    expect((await readdir(store)).sort()).toEqual(['boot_a.img', 'boot_b.img', 'system_a.img', 'system_b.img']);

    const image = randomBytes(3 * 1024 * 1024);
    const path = join(dir, 'sys.img');
    await writeFile(path, image);
    await run('fastboot', ['-s', tcp, 'flash', 'system', path]);
    const { stdout, stderr } = await run('fastboot', ['-s', udp, 'getvar', 'serialno']);
    expect(`${stdout}${stderr}`).toMatch(/serialno: CLI01/);
    expect((await readFile(join(store, 'system_a.img'))).subarray(0, image.length).equals(image)).toBe(true);

    ac.abort();
    expect(await done).toBe(0);
    await expect(run('fastboot', ['-s', tcp, 'getvar', 'product'], { timeout: 1500 })).rejects.toBeTruthy();
  });
});
