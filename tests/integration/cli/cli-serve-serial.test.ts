// Serial boards through a real `flash-station serve` and the CLI client (the WebSocket protocol): in-station ESP and
// STM32 simulators flashed at addresses, by an ESP-IDF flasher_args.json plan and with an Intel HEX file (progress
// in image bytes, monotonic, 100 before completion); and `serve --serial-port` against the standalone
// `flash-station sim esp|stm32 --tty` on socat pty pairs, one named `?protocol=esp`, one found by probing.
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { writeIntelHex } from '../../../src/images/intel-hex.js';
import { openSerialTransport } from '../../../src/transports/serial.js';
import type { Device } from '../../../src/protocol/messages.js';
import { captureIo as io } from '../../helpers/cli-io.js';
import { spawnCli, type CliProcess } from '../../helpers/cli-process.js';
import { DEFAULT_PARTITIONS, espApp, partitionTable } from '../../helpers/esp-images.js';
import { ptyPair, type PtyPair } from '../../helpers/pty-pair.js';

const root = resolve(import.meta.dirname, '../../..');
const bundle = join(root, 'node_modules', '.cache', 'flash-station-tests', `cli-serial-${process.pid}.mjs`);
const ESP32_CHIP_ID = 0;
let dir: string;
const children: ChildProcess[] = [];
const pairs: PtyPair[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fs-serve-serial-'));
  await build({
    entryPoints: [join(root, 'src/cli/main.ts')], outfile: bundle, bundle: true, platform: 'node', target: 'node20', format: 'esm',
    packages: 'external', logLevel: 'warning', define: { __FLASH_STATION_VERSION__: '"9.9.9-test"' },
  });
});
afterAll(async () => {
  await Promise.all(children.filter((c) => c.exitCode === null && c.signalCode === null).map((c) => new Promise((r) => {
    c.once('exit', r);
    c.kill('SIGKILL');
  })));
  for (const p of pairs) await p.close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(bundle, { force: true });
});

/** `flash-station ARGS` as its own process; resolves `lines` once `readyLines` stdout lines arrived. */
function run(args: string[], readyLines: number): CliProcess {
  const p = spawnCli(bundle, args, readyLines, root);
  children.push(p.child);
  return p;
}

async function serve(args: string[]): Promise<{ url: string; dataDir: string; stop: () => Promise<void> }> {
  const dataDir = mkdtempSync(join(dir, 'data-'));
  const s = run(['serve', '--port', '0', '--data-dir', dataDir, '--no-usb', '--no-serial', '--no-block', ...args], 2);
  await s.ready;
  return {
    url: s.lines[0]!.slice('listening '.length),
    dataDir,
    stop: async () => {
      s.child.kill('SIGINT');
      expect(await s.exit).toBe(0);
    },
  };
}

/** Polls the station's devices (through the CLI) until `pred` holds; returns that list. */
async function devicesUntil(url: string, pred: (list: Device[]) => boolean, what: string, ms = 40_000): Promise<Device[]> {
  const end = Date.now() + ms;
  for (;;) {
    const list = await devices(url);
    if (pred(list)) return list;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(list.map((d) => [d.id, d.state, d.info.error]))}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function devices(url: string): Promise<Device[]> {
  const out = io();
  expect(await main(['devices', '--url', url, '--json'], out)).toBe(0);
  return JSON.parse(out.out) as Device[];
}

interface Event { type: string; progress?: number; totalBytes?: number; bytesTransferred?: number; stage?: string; error?: string }

/** `flash --json …` through the station; the exit code and every event it printed. */
async function flash(url: string, dataDir: string, args: string[]): Promise<{ code: number; events: Event[]; err: string }> {
  const out = io();
  const code = await main(['flash', '--url', url, '--data-dir', dataDir, '--json', ...args], out);
  const events = out.out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Event);
  return { code, events, err: out.err };
}

/** A completed job's events read as the seed's client would: total, monotonic progress, 100 right before the end. */
function expectCompleted(r: { code: number; events: Event[]; err: string }, totalBytes: number): void {
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  const started = r.events.find((e) => e.type === 'flash_started');
  expect(started?.totalBytes).toBe(totalBytes);
  const progress = r.events.filter((e) => e.type === 'flash_progress');
  expect(progress.length).toBeGreaterThan(1);
  const values = progress.map((e) => e.progress!);
  expect(values).toEqual([...values].sort((a, b) => a - b));
  expect(progress.at(-1)).toMatchObject({ progress: 100, bytesTransferred: totalBytes });
  expect(r.events.at(-1)?.type).toBe('flash_completed');
  expect(r.events.findIndex((e) => e.type === 'flash_completed')).toBe(r.events.length - 1);
}

function seeded(n: number, seed: number): Uint8Array {
  let x = seed;
  return Uint8Array.from({ length: n }, () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24));
}

describe('serial boards through flash-station serve', () => {
  it('a named port another program holds shows as an error device that says so', async () => {
    const p = await ptyPair();
    pairs.push(p);
    const holder = await openSerialTransport(p.host, { baudRate: 115200, dataBits: 8, parity: 'none', stopBits: 1 });
    try {
      const s = await serve(['--serial-port', `${p.host}?protocol=esp`]);
      const list = await devicesUntil(s.url, (l) => l.some((d) => d.state === 'error'), 'the port to show as an error', 30_000);
      expect(list[0]).toMatchObject({ port: p.host, protocol: 'esp', state: 'error' });
      expect(String(list[0]!.info.error)).toMatch(/in use by another program.*close/i);
      await s.stop();
    } finally {
      await holder.close();
    }
  }, 60_000);

  it('in-station ESP32 and STM32 sims: addresses, a flasher_args.json plan, an Intel HEX file', async () => {
    const s = await serve(['--sim', 'esp:ESPE2E?chip=esp32&flash=4M', '--sim', 'stm32:STME2E?chip=f103&flash=128K']);
    const list = await devicesUntil(s.url, (l) => l.filter((d) => d.state === 'idle').length === 2, 'both boards idle');
    expect(list.find((d) => d.id === 'ESPE2E')).toMatchObject({ protocol: 'esp', transport: 'sim', targets: ['partition', 'address'], info: { chip: 'ESP32' } });
    expect(list.find((d) => d.id === 'STME2E')).toMatchObject({ protocol: 'stm32', transport: 'sim', targets: ['address'], info: { flash_size: 128 * 1024 } });
    // The table a person reads: an STM32 has no partitions at all ("-"); the blank ESP board an empty table (0).
    const shown = io();
    expect(await main(['devices', '--url', s.url], shown)).toBe(0);
    expect(shown.out).toMatch(/^STME2E\s+idle\s+stm32\s+sim\s+sim:STME2E\s+.+\s+address\s+-$/m);
    expect(shown.out).toMatch(/^ESPE2E\s+idle\s+esp\s+sim\s+sim:ESPE2E\s+.+\s+partition,address\s+0$/m);

    // ESP-IDF build output: bootloader, partition table and app at their offsets.
    const build = join(dir, 'idf', 'build');
    mkdirSync(join(build, 'bootloader'), { recursive: true });
    mkdirSync(join(build, 'partition_table'), { recursive: true });
    const bootloader = espApp(24 * 1024, ESP32_CHIP_ID, 7);
    const table = partitionTable(DEFAULT_PARTITIONS);
    const app = espApp(160 * 1024, ESP32_CHIP_ID, 9);
    writeFileSync(join(build, 'bootloader', 'bootloader.bin'), bootloader);
    writeFileSync(join(build, 'partition_table', 'partition-table.bin'), table);
    writeFileSync(join(build, 'hello.bin'), app);
    writeFileSync(join(build, 'flasher_args.json'), JSON.stringify({
      write_flash_args: ['--flash_mode', 'dio', '--flash_size', '4MB', '--flash_freq', '40m'],
      flash_settings: { flash_mode: 'dio', flash_size: '4MB', flash_freq: '40m' },
      flash_files: { '0x1000': 'bootloader/bootloader.bin', '0x8000': 'partition_table/partition-table.bin', '0x10000': 'hello.bin' },
      extra_esptool_args: { after: 'hard_reset', before: 'default_reset', stub: true, chip: 'esp32' },
    }));
    const plan = await flash(s.url, s.dataDir, ['--device', 'ESPE2E', '--plan', join(build, 'flasher_args.json')]);
    expectCompleted(plan, bootloader.length + table.length + app.length);
    const espFlash = (): Buffer => readFileSync(join(s.dataDir, 'sim', 'ESPE2E', 'flash.bin'));
    expect(espFlash().subarray(0x1000, 0x1000 + bootloader.length).equals(bootloader)).toBe(true);
    expect(espFlash().subarray(0x8000, 0x8000 + table.length).equals(table)).toBe(true);
    expect(espFlash().subarray(0x10000, 0x10000 + app.length).equals(app)).toBe(true);
    // The plan wrote a partition table: the board lists its labels at once, and takes one as a target.
    const labelled = await devicesUntil(s.url, (l) => (l.find((d) => d.id === 'ESPE2E')?.partitions?.length ?? 0) > 0, 'the new partition table', 5000);
    expect(labelled.find((d) => d.id === 'ESPE2E')).toMatchObject({ partitions: DEFAULT_PARTITIONS.map((p) => ({ name: p.label, size: p.size })), info: { partition_table: true } });
    const app2 = espApp(48 * 1024, ESP32_CHIP_ID, 10);
    writeFileSync(join(dir, 'app2.bin'), app2);
    expectCompleted(await flash(s.url, s.dataDir, ['--device', 'ESPE2E', 'factory', join(dir, 'app2.bin')]), app2.length);
    expect(espFlash().subarray(0x10000, 0x10000 + app2.length).equals(app2)).toBe(true);

    // A raw blob at an address given as hex.
    const blob = seeded(40 * 1024, 3);
    writeFileSync(join(dir, 'blob.bin'), blob);
    expectCompleted(await flash(s.url, s.dataDir, ['--device', 'ESPE2E', '--address', '0x200000', join(dir, 'blob.bin')]), blob.length);
    expect(espFlash().subarray(0x200000, 0x200000 + blob.length).equals(blob)).toBe(true);

    // STM32: an Intel HEX file with a gap, counted in data bytes; and a raw .bin at an address.
    const lo = seeded(9000, 5);
    const hi = seeded(1500, 6);
    writeFileSync(join(dir, 'fw.hex'), writeIntelHex([{ address: 0x0800_0000, bytes: lo }, { address: 0x0800_8000, bytes: hi }]));
    const hexJob = await flash(s.url, s.dataDir, ['--device', 'STME2E', '--address', '0x08000000', join(dir, 'fw.hex')]);
    expectCompleted(hexJob, lo.length + hi.length);
    const stmFlash = (): Buffer => readFileSync(join(s.dataDir, 'sim', 'STME2E', 'flash.bin'));
    expect(stmFlash().subarray(0, lo.length).equals(lo)).toBe(true);
    expect(stmFlash().subarray(0x8000, 0x8000 + hi.length).equals(hi)).toBe(true);
    expect(stmFlash().subarray(lo.length + 16, 0x8000).every((b) => b === 0xff)).toBe(true); // the gap is not written

    const bin = seeded(3000, 8);
    writeFileSync(join(dir, 'app.bin'), bin);
    expectCompleted(await flash(s.url, s.dataDir, ['--device', 'STME2E', '--address', '0x08010000', join(dir, 'app.bin')]), bin.length);
    expect(stmFlash().subarray(0x10000, 0x10000 + bin.length).equals(bin)).toBe(true);

    // Bad input, refused before a byte is written: a HEX record with a bad checksum (when the image is opened), an
    // ESP32-S3 app onto the ESP32 (by the family, from the image header), an address past the end of the flash.
    const lines = writeIntelHex([{ address: 0x0800_0000, bytes: lo }]).split('\n');
    lines[2] = lines[2]!.slice(0, -2) + (lines[2]!.endsWith('00') ? '01' : '00');
    writeFileSync(join(dir, 'bad.hex'), lines.join('\n'));
    const before = stmFlash();
    const badHex = await flash(s.url, s.dataDir, ['--device', 'STME2E', '--address', '0x08000000', join(dir, 'bad.hex')]);
    expect(badHex.code).not.toBe(0);
    expect(badHex.err).toMatch(/bad\.hex: line 3: checksum is 0x[0-9A-F]{2}, the record adds up to 0x[0-9A-F]{2}: the file is damaged/);
    expect(badHex.events.some((e) => e.type === 'flash_started')).toBe(false);
    const s3 = espApp(32 * 1024, 9 /* ESP32-S3 */, 4);
    writeFileSync(join(dir, 's3.bin'), s3);
    const espBefore = espFlash();
    const wrongChip = await flash(s.url, s.dataDir, ['--device', 'ESPE2E', '--address', '0x10000', join(dir, 's3.bin')]);
    expect(wrongChip.code).toBe(1);
    expect(wrongChip.events.at(-1)).toMatchObject({ type: 'flash_failed', error: expect.stringMatching(/ESP32-S3/) });
    const pastEnd = await flash(s.url, s.dataDir, ['--device', 'STME2E', '--address', '0x0801f000', join(dir, 'blob.bin')]);
    expect(pastEnd.code).toBe(1);
    expect(pastEnd.events.at(-1)).toMatchObject({ type: 'flash_failed', error: expect.stringMatching(/past the end of the 128 KiB flash/) });
    expect(espFlash().equals(espBefore)).toBe(true);
    expect(stmFlash().equals(before)).toBe(true);

    // Targets the family does not take, refused before a job exists.
    const wrong = await flash(s.url, s.dataDir, ['--device', 'STME2E', 'factory', join(dir, 'app.bin')]);
    expect(wrong.code).toBe(2); // bad_request: a usage error
    expect(wrong.err).toMatch(/STME2E \(stm32\) takes --address ADDR IMAGE, not PARTITION IMAGE/);
    await s.stop();
  }, 120_000);

  it('pause, resume and cancel a serial job through the station: the same events as for fastboot', async () => {
    const s = await serve(['--sim', 'esp:ESPCTL?chip=esp32&flash=4M', '--sim', 'stm32:STMCTL?flash=128K']);
    await devicesUntil(s.url, (l) => l.filter((d) => d.state === 'idle').length === 2, 'both boards idle');
    const blob = seeded(1_000_000, 31); // ~11 s at 921600: time to pause
    writeFileSync(join(dir, 'ctl.bin'), blob);
    const out = io();
    const running = main(['flash', '--url', s.url, '--data-dir', s.dataDir, '--json', '--device', 'ESPCTL', '--address', '0x10000', join(dir, 'ctl.bin')], out);
    const events = (): Event[] => out.out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Event);
    const moved = async (min: number): Promise<void> => {
      const end = Date.now() + 60_000;
      while ((events().filter((e) => e.type === 'flash_progress').at(-1)?.bytesTransferred ?? 0) < min) {
        if (Date.now() > end) throw new Error(`no progress past ${min}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await moved(50_000);
    const jobId = (events().find((e) => e.type === 'flash_started') as { jobId?: string } | undefined)?.jobId;
    expect(jobId).toBeDefined();
    expect(await main(['pause', '--url', s.url, '--data-dir', s.dataDir, jobId!], io())).toBe(0);
    // The station's own count (not the frames, which stop while paused) stands still once the block in flight landed.
    const bytesNow = async (): Promise<number> => {
      const j = io();
      expect(await main(['jobs', '--url', s.url, '--json'], j)).toBe(0);
      return (JSON.parse(j.out) as Array<{ jobId: string; bytesTransferred: number; state: string }>).find((x) => x.jobId === jobId)!.bytesTransferred;
    };
    await new Promise((r) => setTimeout(r, 1500));
    const held = await bytesNow();
    await new Promise((r) => setTimeout(r, 1500));
    expect(await bytesNow()).toBe(held);
    expect(held).toBeLessThan(blob.length);
    expect(await main(['resume', '--url', s.url, '--data-dir', s.dataDir, jobId!], io())).toBe(0);
    expect(await running).toBe(0);
    const types = events().map((e) => e.type);
    expect(types.indexOf('flash_paused')).toBeGreaterThan(types.indexOf('flash_started'));
    expect(types.indexOf('flash_resumed')).toBeGreaterThan(types.indexOf('flash_paused'));
    expectCompleted({ code: 0, events: events(), err: out.err }, blob.length);
    expect(readFileSync(join(s.dataDir, 'sim', 'ESPCTL', 'flash.bin')).subarray(0x10000, 0x10000 + blob.length).equals(blob)).toBe(true);

    // Cancel an STM32 write between blocks: flash_failed with reason "cancelled", exit 130.
    const fw = seeded(100_000, 32);
    writeFileSync(join(dir, 'ctl-fw.bin'), fw);
    const cout = io();
    const cancelled = main(['flash', '--url', s.url, '--data-dir', s.dataDir, '--json', '--device', 'STMCTL', '--address', '0x08000000', join(dir, 'ctl-fw.bin')], cout);
    const cEvents = (): Event[] => cout.out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Event);
    const end = Date.now() + 60_000;
    while (!cEvents().some((e) => e.type === 'flash_progress' && (e.bytesTransferred ?? 0) > 0)) {
      if (Date.now() > end) throw new Error('the STM32 write did not move');
      await new Promise((r) => setTimeout(r, 100));
    }
    const cJob = (cEvents().find((e) => e.type === 'flash_started') as { jobId?: string }).jobId!;
    expect(await main(['cancel', '--url', s.url, '--data-dir', s.dataDir, cJob], io())).toBe(0);
    expect(await cancelled).toBe(130);
    expect(cEvents().at(-1)).toMatchObject({ type: 'flash_failed', error: 'Cancelled', reason: 'cancelled' });
    await s.stop();
  }, 120_000);

  it('a board unplugged mid-write: the job logs the byte offset, waits for it, writes again and completes', async () => {
    const s = await serve(['--sim', 'esp:ESPDROP?disconnect-after=100000', '--sim', 'stm32:STMDROP?disconnect-after=20000']);
    await devicesUntil(s.url, (l) => l.filter((d) => d.state === 'idle').length === 2, 'both boards idle');
    const blob = seeded(300_000, 21);
    writeFileSync(join(dir, 'drop.bin'), blob);
    const fw = seeded(60_000, 22);
    writeFileSync(join(dir, 'drop-fw.bin'), fw);
    for (const [id, args, total] of [
      ['ESPDROP', ['--address', '0x10000', join(dir, 'drop.bin')], blob.length],
      ['STMDROP', ['--address', '0x08000000', join(dir, 'drop-fw.bin')], fw.length],
    ] as const) {
      const r = await flash(s.url, s.dataDir, ['--device', id, ...args]);
      expectCompleted(r, total);
      const warnings = r.events.filter((e) => e.type === 'flash_log' && (e as { level?: string }).level === 'warn').map((e) => (e as { message?: string }).message);
      expect(warnings).toEqual([expect.stringMatching(/byte offset .*retrying/)]);
    }
    expect(readFileSync(join(s.dataDir, 'sim', 'ESPDROP', 'flash.bin')).subarray(0x10000, 0x10000 + blob.length).equals(blob)).toBe(true);
    expect(readFileSync(join(s.dataDir, 'sim', 'STMDROP', 'flash.bin')).subarray(0, fw.length).equals(fw)).toBe(true);
    await s.stop();
  }, 120_000);

  it('serve --serial-port: standalone simulators on pty pairs, one named esp, one probed (ESP first, then STM32)', async () => {
    const esp = await ptyPair();
    const stm = await ptyPair();
    pairs.push(esp, stm);
    const espStore = join(dir, 'esp-store');
    const stmStore = join(dir, 'stm-store');
    const espSim = run(['sim', 'esp', '--tty', esp.device, '--store', espStore, '--chip', 'esp32', '--flash-size', '4M'], 1);
    const stmSim = run(['sim', 'stm32', '--tty', stm.device, '--store', stmStore, '--flash-size', '128K'], 1);
    await Promise.all([espSim.ready, stmSim.ready]);
    expect(espSim.lines[0]).toBe(`ready ${esp.device}`);
    expect(stmSim.lines[0]).toBe(`ready ${stm.device}`);

    const s = await serve(['--serial-port', `${esp.host}?protocol=esp`, '--serial-port', stm.host]);
    const list = await devicesUntil(s.url, (l) => l.filter((d) => d.state === 'idle').length === 2, 'both ports claimed and probed');
    const espDev = list.find((d) => d.port === esp.host);
    const stmDev = list.find((d) => d.port === stm.host);
    expect(espDev).toMatchObject({ protocol: 'esp', transport: 'serial', info: { chip: 'ESP32' } });
    expect(stmDev).toMatchObject({ protocol: 'stm32', transport: 'serial', info: { product_id: '0x410' } });

    const app = espApp(64 * 1024, ESP32_CHIP_ID, 11);
    writeFileSync(join(dir, 'tty-app.bin'), app);
    expectCompleted(await flash(s.url, s.dataDir, ['--device', espDev!.id, '--address', '0x10000', join(dir, 'tty-app.bin')]), app.length);
    expect(readFileSync(join(espStore, 'flash.bin')).subarray(0x10000, 0x10000 + app.length).equals(app)).toBe(true);

    const fw = seeded(4096, 12);
    writeFileSync(join(dir, 'tty-fw.hex'), writeIntelHex([{ address: 0x0800_0800, bytes: fw }]));
    expectCompleted(await flash(s.url, s.dataDir, ['--device', stmDev!.id, '--address', '0x08000800', join(dir, 'tty-fw.hex')]), fw.length);
    expect(readFileSync(join(stmStore, 'flash.bin')).subarray(0x800, 0x800 + fw.length).equals(fw)).toBe(true);

    await s.stop();
    espSim.child.kill('SIGINT');
    stmSim.child.kill('SIGINT');
    await Promise.all([espSim.exit, stmSim.exit]);
  }, 120_000);
});
