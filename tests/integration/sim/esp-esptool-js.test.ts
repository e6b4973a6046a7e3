// Conformance: Espressif's esptool-js, in Node over a socat pty pair, flashes the ESP simulator (ROM + stub dialects).
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ESPLoader, Transport as EspTransport } from 'esptool-js';
import { afterEach, describe, expect, it } from 'vitest';
import { createEspFamily } from '../../../src/drivers/esp/index.js';
import { WebSerialPort } from '../../../src/drivers/esp/web-serial.js';
import { openImage } from '../../../src/images/open.js';
import { runEspSimCli } from '../../../src/sim/esp/cli.js';
import type { EspSimChip } from '../../../src/sim/esp/chips.js';
import { createEspSim, type EspSim } from '../../../src/sim/esp/sim.js';
import { startTtyFace, type TtyFace } from '../../../src/sim/esp/tty-face.js';
import { openSerialTransport } from '../../../src/transports/serial.js';
import { ptyPair, type PtyPair } from '../../helpers/pty-pair.js';

const quiet = { clean: () => undefined, writeLine: () => undefined, write: () => undefined };
const md5hex = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');

/** Compressible but not trivial: an app-like image. */
function image(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = i % 7 === 0 ? (x >>> 24) & 0xff : (i >> 4) & 0xff;
  }
  out[0] = 0xe9;
  return out;
}

describe('esptool-js against the ESP simulator on a pty pair', () => {
  let pair: PtyPair | undefined;
  let sim: EspSim | undefined;
  let face: TtyFace | undefined;
  let dir: string | undefined;

  afterEach(async () => {
    await face?.close();
    await sim?.close();
    await pair?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    pair = sim = face = dir = undefined;
  });

  async function start(chip: EspSimChip): Promise<{ loader: ESPLoader; port: WebSerialPort }> {
    dir = mkdtempSync(join(tmpdir(), 'fs-esp-'));
    pair = await ptyPair();
    sim = await createEspSim({ serial: 'ESPT1', chip, flashSize: 0x400000, storeDir: dir, baud: 115200, wiring: 'none', faults: {} });
    face = await startTtyFace(sim, pair.device);
    const host = pair.host;
    const port = new WebSerialPort((s) => openSerialTransport(host, s));
    const transport = new EspTransport(port);
    const loader = new ESPLoader({ transport, baudrate: 921600, romBaudrate: 115200, terminal: quiet });
    return { loader, port };
  }

  it.each([
    ['esp32', 'ESP32-D0WD-V3 (revision 3)', 0x10000],
    ['esp8266', 'ESP8266EX', 0x0],
  ] as const)('%s: detects the chip, runs the stub, writes compressed data and passes the MD5 check', async (chip, title, address) => {
    const { loader } = await start(chip);
    const desc = await loader.main('default_reset');
    expect(desc).toBe(title);
    expect(loader.IS_STUB).toBe(true);
    expect(loader.transport.baudrate).toBe(921600);
    expect(sim?.device.baud).toBe(921600);
    expect(await loader.readFlashId()).toBe(0x1640ef);
    const app = image(200_000, 7);
    await loader.writeFlash({
      fileArray: [{ data: app, address }],
      flashMode: 'keep',
      flashFreq: 'keep',
      flashSize: 'keep',
      eraseAll: false,
      compress: true,
      calculateMD5Hash: md5hex,
    });
    const onDisk = readFileSync(join(dir ?? '', 'flash.bin'));
    expect(onDisk.length).toBe(0x400000);
    expect(md5hex(onDisk.subarray(address, address + app.length))).toBe(md5hex(app));
    // Read back through the stub's READ_FLASH stream.
    const back = await loader.readFlash(address, 8192);
    expect(md5hex(back)).toBe(md5hex(app.subarray(0, 8192)));
    await loader.transport.disconnect();
  });

  it('the standalone `sim esp --tty` prints ready, and our ESP family flashes it over the pty', async () => {
    dir = mkdtempSync(join(tmpdir(), 'fs-esp-'));
    pair = await ptyPair();
    const stop = new AbortController();
    const lines: string[] = [];
    let ready: () => void = () => undefined;
    const isReady = new Promise<void>((r) => (ready = r));
    const store = join(dir, 'store');
    const done = runEspSimCli(['--tty', pair.device, '--chip', 'esp32', '--flash-size', '2M', '--store', store], {
      out: (l) => {
        lines.push(l);
        if (l.startsWith('ready')) ready();
      },
      err: () => undefined,
      signal: stop.signal,
    });
    await isReady;
    expect(lines).toEqual([`ready ${pair.device}`]);
    const family = createEspFamily();
    const c = { kind: 'serial' as const, key: pair.host, transport: 'serial' as const, path: pair.host, protocol: 'esp' as const };
    const link = family.connect(c);
    try {
      const desc = await family.probe(link, c, AbortSignal.timeout(20_000));
      expect(desc.info.flash_size).toBe(0x200000);
      const app = image(150_000, 3);
      writeFileSync(join(dir, 'app.bin'), app);
      const noop = async (): Promise<void> => undefined;
      const ctx = {
        jobId: 'j', deviceId: 'd', signal: new AbortController().signal, gate: { pass: noop }, throttle: { take: noop },
        moved: () => undefined, stage: () => undefined, log: () => undefined, waitForDevice: () => Promise.reject(new Error('unused')),
      };
      await family.run(link, { op: 'flash', target: { address: 0x20000 }, source: await openImage(join(dir, 'app.bin'), { hash: false }) }, ctx);
      expect(md5hex(readFileSync(join(store, 'flash.bin')).subarray(0x20000, 0x20000 + app.length))).toBe(md5hex(app));
    } finally {
      await link.close();
      stop.abort();
      expect(await done).toBe(0);
    }
  });
});
