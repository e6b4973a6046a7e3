// Fault injection (contract §5) and the link model of the simulator core.
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { SimDisconnectedError } from '../../../src/sim/fastboot/connection.js';
import { LinkPacer } from '../../../src/sim/fastboot/link-model.js';
import { makeHarness, type Harness } from './harness.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

const settlesWithin = async (p: Promise<unknown>, ms: number): Promise<boolean> =>
  Promise.race([p.then(() => true, () => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

describe('fault injection', () => {
  it('fail-after: FAIL once the byte count is reached, the rest of the download is swallowed, and it fires once', async () => {
    h = await makeHarness('fastboot:F1?partitions=boot:1M&fail-after=10000');
    const data = randomBytes(32768);
    const r = await h.download(data, 4096);
    expect(r).toMatchObject({ status: 'FAIL', text: 'simulated failure after 10000 bytes (fail-after)' });
    expect(h.dev.downloads.size).toBeUndefined();
    // Still in step: the next command is understood, and the next download goes through.
    expect((await h.cmd('getvar:product')).status).toBe('OKAY');
    expect((await h.download(data)).status).toBe('OKAY');
  });

  it('repeat-faults: byte faults count per download and fire every time', async () => {
    h = await makeHarness('fastboot:F2?partitions=boot:1M&fail-after=100&repeat-faults=1');
    expect((await h.download(randomBytes(1000))).text).toMatch(/after 100 bytes/);
    expect((await h.download(randomBytes(1000))).text).toMatch(/after 100 bytes/);
  });

  it('disconnect-after: the write that crosses the mark rejects, the session ends unplugged, the device comes back', async () => {
    h = await makeHarness('fastboot:F3?partitions=boot:1M&disconnect-after=5000&reboot-delay=30ms');
    const events: string[] = [];
    h.dev.onEvent((e) => events.push(e.type === 'offline' ? `offline:${e.reason}` : e.type));
    expect((await h.cmd('download:00002000')).status).toBe('DATA');
    await h.s.write(randomBytes(4096));
    const err = await h.s.write(randomBytes(4096)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SimDisconnectedError);
    expect((err as SimDisconnectedError).reason).toBe('unplugged');
    expect(h.dev.stats.bytesDownloaded).toBe(5000);
    expect(await h.s.ended).toBe('unplugged');
    await new Promise((r) => setTimeout(r, 80));
    expect(events).toEqual(['offline:unplugged', 'online']);
    h.s = h.dev.connect();
    expect((await h.download(randomBytes(9000))).status).toBe('OKAY');
  });

  it('stall-after: writes and reads stop settling until the host drops the session; a new session works', async () => {
    h = await makeHarness('fastboot:F4?partitions=boot:1M&stall-after=4096');
    expect((await h.cmd('download:00004000')).status).toBe('DATA');
    await h.s.write(randomBytes(2048));
    const stuck = h.s.write(randomBytes(4096));
    expect(await settlesWithin(stuck, 100)).toBe(false);
    const read = h.s.read(256);
    expect(await settlesWithin(read, 50)).toBe(false);
    h.s.close();
    await expect(stuck).rejects.toBeInstanceOf(SimDisconnectedError);
    await expect(read).rejects.toBeInstanceOf(SimDisconnectedError);
    h.s = h.dev.connect();
    expect((await h.download(randomBytes(20000))).status).toBe('OKAY');
  });

  it('fail-command: FAILs the named command (prefix up to ":") once; other commands are untouched', async () => {
    h = await makeHarness('fastboot:F5?partitions=boot:1M&fail-command=flash');
    await h.download(randomBytes(100));
    expect((await h.cmd('getvar:product')).status).toBe('OKAY');
    expect((await h.cmd('flash:boot')).text).toBe('simulated failure of "flash:boot" (fail-command)');
    expect((await h.cmd('flash:boot')).status).toBe('OKAY');
  });

  it('fail-command matches a full command too (getvar:product) and not its neighbours', async () => {
    h = await makeHarness('fastboot:F6?partitions=boot:1M&fail-command=getvar:product&repeat-faults=1');
    expect((await h.cmd('getvar:serialno')).status).toBe('OKAY');
    expect((await h.cmd('getvar:product')).status).toBe('FAIL');
    expect((await h.cmd('getvar:product')).status).toBe('FAIL');
  });
});

describe('stall-command', () => {
  it('never answers the named command; after the host reconnects the device answers again', async () => {
    h = await makeHarness('fastboot:F7?partitions=boot:1M&stall-command=erase');
    await h.s.write(Buffer.from('erase:boot'));
    const answer = h.s.read(256);
    expect(await settlesWithin(answer, 100)).toBe(false);
    h.s.close();
    await expect(answer).rejects.toBeInstanceOf(SimDisconnectedError);
    h.s = h.dev.connect();
    expect((await h.cmd('erase:boot')).status).toBe('OKAY');
  });
});

describe('link model', () => {
  it('speed limits ingest: 256 KiB at 1 MiB/s takes about a quarter of a second', async () => {
    h = await makeHarness('fastboot:L1?partitions=boot:1M&speed=1M');
    const t0 = performance.now();
    expect((await h.download(randomBytes(256 * 1024), 16384)).status).toBe('OKAY');
    const ms = performance.now() - t0;
    expect(ms).toBeGreaterThan(230);
    expect(ms).toBeLessThan(1500);
  });

  it('turnaround is paid by each transfer that finds the link idle, and overlapped when transfers queue up', async () => {
    const model = { bytesPerSecond: 0, latencyMs: 2 };
    const serial = new LinkPacer(model);
    let t0 = performance.now();
    for (let i = 0; i < 20; i++) await serial.transfer(1000);
    const one = performance.now() - t0;
    const queued = new LinkPacer(model);
    t0 = performance.now();
    await Promise.all(Array.from({ length: 20 }, () => queued.transfer(1000)));
    const many = performance.now() - t0;
    expect(one).toBeGreaterThan(38);
    expect(many).toBeLessThan(one / 3);
  });

  it('holds a modelled USB 2.0 link (53 MB/s, 100 us) to its rate with several transfers in flight, and below it with one', async () => {
    const model = { bytesPerSecond: 53e6, latencyMs: 0.1 };
    const rate = async (inFlight: number): Promise<number> => {
      const pacer = new LinkPacer(model);
      const n = 400;
      let next = 0;
      const t0 = performance.now();
      const worker = async (): Promise<void> => {
        while (next < n) {
          next++;
          await pacer.transfer(16384);
        }
      };
      await Promise.all(Array.from({ length: inFlight }, worker));
      return (n * 16384) / ((performance.now() - t0) / 1000);
    };
    const four = await rate(4);
    expect(four).toBeGreaterThan(0.9 * 53e6);
    expect(four).toBeLessThan(1.05 * 53e6);
    const one = await rate(1);
    // One in flight pays the turnaround on every transfer: at most 16384 / (309 us + 100 us) = 40 MB/s.
    expect(one).toBeLessThan(41e6);
  });

  it('flash-speed makes flash take the time a real flash chip would', async () => {
    h = await makeHarness('fastboot:L3?partitions=boot:1M&flash-speed=2M');
    expect((await h.download(randomBytes(512 * 1024))).status).toBe('OKAY');
    const t0 = performance.now();
    expect((await h.cmd('flash:boot')).status).toBe('OKAY');
    expect(performance.now() - t0).toBeGreaterThan(240);
  });

  it('answers responses as whole packets of at most 256 bytes', async () => {
    h = await makeHarness('fastboot:L2?partitions=boot:1M');
    await h.s.write(Buffer.from(`oem device-info`));
    for (;;) {
      const p = await h.s.read(4096);
      expect(p.length).toBeLessThanOrEqual(256);
      if (Buffer.from(p).toString('latin1').startsWith('OKAY')) break;
    }
    expect((await h.cmd('getvar:version')).text).toBe('0.4');
  });
});
