// Conformance: Debian stm32flash (-m 8n1) writes, verifies, reads, erases and starts the STM32 simulator on a pty pair.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runStm32SimCli } from '../../../src/sim/stm32/tty.js';
import { ptyPair, type PtyPair } from '../../helpers/pty-pair.js';

const run = promisify(execFile);

describe('stm32flash against the STM32 simulator', () => {
  let pair: PtyPair;
  let dir: string;
  const stop = new AbortController();
  let sim: Promise<number>;

  beforeAll(async () => {
    pair = await ptyPair();
    dir = mkdtempSync(join(tmpdir(), 'fs-stm32-'));
    let ready: () => void = () => undefined;
    const isReady = new Promise<void>((r) => (ready = r));
    sim = runStm32SimCli(['stm32', '--tty', pair.device, '--store', join(dir, 'store'), '--baud', '230400', '--go-reset', '100ms'], {
      out: (l) => (l.startsWith('ready ') ? ready() : undefined),
      err: () => undefined,
      signal: stop.signal,
    });
    await isReady;
  });
  afterAll(async () => {
    stop.abort();
    expect(await sim).toBe(0);
    await pair.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const flash = (args: string[]): Promise<{ stdout: string; stderr: string }> =>
    run('stm32flash', ['-m', '8n1', '-b', '230400', ...args, pair.host], { timeout: 60_000 });

  it('identifies the chip', async () => {
    const { stdout } = await flash([]);
    expect(stdout).toMatch(/Device ID\s*: 0x0410/);
    expect(stdout).toMatch(/Version\s*: 0x22/);
  });

  it('writes and verifies an image, reads it back byte for byte, erases, and starts it', async () => {
    const image = Buffer.alloc(5000 + 3);
    for (let i = 0; i < image.length; i++) image[i] = (i * 131 + 7) & 0xff;
    const imagePath = join(dir, 'image.bin');
    writeFileSync(imagePath, image);
    const w = await flash(['-w', imagePath, '-v']);
    expect(w.stdout).toMatch(/Wrote and verified address 0x080013/);
    const flashBin = readFileSync(join(dir, 'store', 'flash.bin'));
    expect(flashBin.subarray(0, image.length)).toEqual(image);
    expect(flashBin.length).toBe(128 * 1024);

    const readPath = join(dir, 'read.bin');
    await flash(['-r', readPath, '-S', `0x08000000:${image.length + 1}`]);
    expect(readFileSync(readPath).subarray(0, image.length)).toEqual(image);

    // Erase two pages (1 KiB each on the F103), then the whole chip (-o is stm32flash's erase-only).
    await flash(['-o', '-S', '0x08000400:2048']);
    let now = readFileSync(join(dir, 'store', 'flash.bin'));
    expect(now.subarray(0x400, 0xc00).every((b) => b === 0xff)).toBe(true);
    expect(now.subarray(0, 0x400)).toEqual(image.subarray(0, 0x400));
    expect(now.subarray(0xc00, image.length)).toEqual(image.subarray(0xc00));
    await flash(['-o']);
    now = readFileSync(join(dir, 'store', 'flash.bin'));
    expect(now.every((b) => b === 0xff)).toBe(true);

    const g = await flash(['-g', '0x08000000']);
    expect(g.stdout).toMatch(/Starting execution at address 0x08000000... done/);
    await new Promise((r) => setTimeout(r, 200));
    // Back in the bootloader after the modelled reset: still answers.
    expect((await flash([])).stdout).toMatch(/Device ID\s*: 0x0410/);
  });

  it('turns readout protection on (reads refused) and off again (which erases the chip)', async () => {
    const imagePath = join(dir, 'small.bin');
    writeFileSync(imagePath, Buffer.alloc(256, 0x42));
    await flash(['-w', imagePath]);
    await flash(['-j']);
    await new Promise((r) => setTimeout(r, 100));
    await expect(flash(['-r', join(dir, 'refused.bin'), '-S', '0x08000000:256'])).rejects.toThrow();
    await flash(['-k']);
    await new Promise((r) => setTimeout(r, 100));
    const readPath = join(dir, 'after.bin');
    await flash(['-r', readPath, '-S', '0x08000000:256']);
    expect(readFileSync(readPath).every((b) => b === 0xff)).toBe(true);
  });
});
