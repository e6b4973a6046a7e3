// The STM32 family over a real serial port (a socat pty pair, opened 8E1) against the standalone simulator.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SerialCandidate } from '../../../src/contracts/family.js';
import { createStm32Family } from '../../../src/drivers/stm32/index.js';
import { writeIntelHex } from '../../../src/images/intel-hex.js';
import { runStm32SimCli } from '../../../src/sim/stm32/tty.js';
import { bytesSource } from '../../helpers/bytes-source.js';
import { ptyPair, type PtyPair } from '../../helpers/pty-pair.js';
import { testContext } from './job-context.js';

describe('STM32 family on a pty', () => {
  let pair: PtyPair;
  let dir: string;
  let stop: AbortController;
  let sim: Promise<number>;

  beforeEach(async () => {
    pair = await ptyPair();
    dir = mkdtempSync(join(tmpdir(), 'fs-stm32-tty-'));
    stop = new AbortController();
    let ready: () => void = () => undefined;
    const isReady = new Promise<void>((r) => (ready = r));
    sim = runStm32SimCli(['--tty', pair.device, '--store', join(dir, 'store'), '--baud', '921600'], {
      out: (l) => (l.startsWith('ready') ? ready() : undefined),
      err: () => undefined,
      signal: stop.signal,
    });
    await isReady;
  });
  afterEach(async () => {
    stop.abort();
    await sim;
    await pair.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const family = createStm32Family();
  const candidate = (): SerialCandidate => ({ kind: 'serial', key: pair.host, transport: 'serial', path: pair.host, protocol: 'stm32', baudRate: 921600 });

  it('probes and flashes an Intel HEX file through the serial transport opened 8E1', async () => {
    const c = candidate();
    const link = family.connect(c);
    const d = await family.probe(link, c, new AbortController().signal);
    expect(d.info).toMatchObject({ product_id: '0x410', flash_size: 128 * 1024 });
    const t = await link.open();
    expect(t.serial?.settings.parity).toBe('even');
    const data = Uint8Array.from({ length: 6000 }, (_, i) => (i * 13) & 0xff);
    const hex = writeIntelHex([{ address: 0x0800_0400, bytes: data }]);
    await family.run(link, { op: 'flash', target: { address: 0x0800_0000 }, source: bytesSource(new TextEncoder().encode(hex), 'fw.hex') }, testContext());
    const flash = readFileSync(join(dir, 'store', 'flash.bin'));
    expect(flash.subarray(0x400, 0x400 + data.length)).toEqual(Buffer.from(data));
    await link.close();
  });

  it('reports an unplugged adapter mid-write as disconnected with the byte offset', async () => {
    const c = candidate();
    const link = family.connect(c);
    await family.probe(link, c, new AbortController().signal);
    const ctx = testContext();
    const big = new Uint8Array(96 * 1024).fill(0x5a);
    const running = family.run(link, { op: 'flash', target: { address: 0x0800_0000 }, source: bytesSource(big) }, ctx).catch((e: unknown) => e);
    while (ctx.bytesMoved < 8192) await new Promise((r) => setTimeout(r, 5));
    await pair.close();
    const err = await running;
    expect(err).toMatchObject({ code: 'disconnected', detail: expect.stringMatching(/^byte offset \d+$/) });
    expect((err as Error).message).toMatch(/stopped at byte offset \d+ \(address 0x080/);
    await link.close();
  });
});
