// A port on a generic USB-UART bridge (a CP2102 here) matches both ESP and STM32: the probes decide, ESP sync first,
// then the STM32 0x7F. A port that answers neither is left unclaimed within the bounds, and nothing is written to it
// after the probes gave up. Real families, real serial transport, a socat pty pair.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Transport } from '../../../src/contracts/links.js';
import { CandidateIntake } from '../../../src/devices/candidates.js';
import type { AttachedDevice } from '../../../src/devices/registry.js';
import { candidateFromListing, createSerialProvider } from '../../../src/devices/serial-provider.js';
import { FAMILIES } from '../../../src/families.js';
import { runEspSimCli } from '../../../src/sim/esp/cli.js';
import { runStm32SimCli } from '../../../src/sim/stm32/tty.js';
import { openSerialTransport } from '../../../src/transports/serial.js';
import { ptyPair, type PtyPair } from '../../helpers/pty-pair.js';
import { until } from '../../helpers/until.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The intake with every real family, as the station builds it (15 s per probe), over a fake registry. */
function intake(): { intake: CandidateIntake; attached: AttachedDevice[]; log: Array<{ at: number; line: string }> } {
  const attached: AttachedDevice[] = [];
  const log: Array<{ at: number; line: string }> = [];
  const i = new CandidateIntake(
    { sink: { attach: (d) => attached.push(d), detach: () => undefined }, lockedBy: () => undefined },
    { families: FAMILIES, probeTimeoutMs: 15_000, log: (line) => log.push({ at: Date.now(), line }) },
  );
  cleanups.push(() => i.close());
  return { intake: i, attached, log };
}

async function pair(): Promise<PtyPair> {
  const p = await ptyPair();
  cleanups.push(() => p.close());
  return p;
}

/** The host end as discovery lists it: a CP2102, no protocol named. */
const cp2102 = (path: string) => candidateFromListing({ path, vendorId: '10c4', productId: 'ea60', manufacturer: 'Silicon Labs' })!;

async function standalone(run: typeof runEspSimCli, args: string[]): Promise<void> {
  const stop = new AbortController();
  let ready: () => void = () => undefined;
  const isReady = new Promise<void>((r) => (ready = r));
  const done = run(args, { out: (l) => (l.startsWith('ready') ? ready() : undefined), err: () => undefined, signal: stop.signal });
  cleanups.push(async () => {
    stop.abort();
    await done;
  });
  await isReady;
}

/** Something on the far end that is not a bootloader; records when the host's bytes arrive. */
async function peer(path: string, behaviour: 'silence' | 'garbage' | 'echo'): Promise<{ received: number[] }> {
  const t: Transport = await openSerialTransport(path, { baudRate: 115200, dataBits: 8, parity: 'none', stopBits: 1 });
  const received: number[] = [];
  let open = true;
  const noise = behaviour === 'garbage' ? setInterval(() => void t.write(Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff)).catch(() => undefined), 25) : undefined;
  void (async () => {
    while (open) {
      const chunk = await t.read(4096, { timeoutMs: 200 }).catch(() => undefined);
      if (!chunk) continue;
      received.push(Date.now());
      if (behaviour === 'echo') await t.write(chunk).catch(() => undefined);
    }
  })();
  cleanups.push(async () => {
    open = false;
    clearInterval(noise);
    await t.close();
  });
  return { received };
}

describe('claiming a port on a generic USB-UART bridge', () => {
  it('both ESP and STM32 match a CP2102; ESP is probed first', () => {
    const c = cp2102('/dev/ttyUSB9');
    expect(FAMILIES.filter((f) => f.match(c) !== undefined).map((f) => f.protocol).sort()).toEqual(['esp', 'stm32']);
  });

  it('an STM32 bootloader behind it: the ESP sync finds nothing, the STM32 0x7F claims it', async () => {
    const p = await pair();
    const dir = mkdtempSync(join(tmpdir(), 'fs-claim-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    await standalone(runStm32SimCli, ['--tty', p.device, '--store', dir]);
    const { intake: i, attached, log } = intake();
    i.offer(cp2102(p.host));
    await until(() => attached.length === 1, 40_000, 'the port to be claimed');
    expect(attached[0]!.family.protocol).toBe('stm32');
    expect(attached[0]!.device).toMatchObject({ protocol: 'stm32', transport: 'serial', port: p.host });
    expect(attached[0]!.description?.info).toMatchObject({ product_id: '0x410' });
    expect(log.map((l) => l.line).join('\n')).toMatch(/not a Espressif ROM bootloader device .*; trying STM32/);
  }, 60_000);

  it('an ESP board behind it is claimed by ESP at once', async () => {
    const p = await pair();
    const dir = mkdtempSync(join(tmpdir(), 'fs-claim-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    await standalone(runEspSimCli, ['--tty', p.device, '--store', dir, '--chip', 'esp32']);
    const { intake: i, attached, log } = intake();
    i.offer(cp2102(p.host));
    await until(() => attached.length === 1, 40_000, 'the port to be claimed');
    expect(attached[0]!.family.protocol).toBe('esp');
    expect(attached[0]!.description?.info).toMatchObject({ chip: 'ESP32' });
    expect(log).toEqual([]);
  }, 60_000);

  it.each(['silence', 'garbage', 'echo'] as const)('%s: neither family claims it, and nothing is written after they gave up', async (behaviour) => {
    const p = await pair();
    const far = await peer(p.device, behaviour);
    const { intake: i, attached, log } = intake();
    const started = Date.now();
    // Discovery lists the port as a CP2102 and keeps polling (every 100 ms here) while the probes run and after.
    const provider = createSerialProvider({ list: async () => [{ path: p.host, vendorId: '10c4', productId: 'ea60' }], pollMs: 100 });
    await provider.start(i);
    cleanups.push(() => provider.stop());
    await until(() => log.some((l) => /left unclaimed/.test(l.line)), 35_000, 'both probes to give up');
    const gaveUp = log.find((l) => /left unclaimed/.test(l.line))!.at;
    // Within the two probe bounds (ESP 12 s, STM32 about 1 s of silence), in order.
    expect(gaveUp - started).toBeLessThan(15_000);
    expect(log.map((l) => l.line)).toEqual([
      expect.stringMatching(/not a Espressif ROM bootloader device .*; trying STM32/),
      expect.stringMatching(/not a STM32 system bootloader \(USART\) device .*; left unclaimed/),
    ]);
    expect(far.received.length).toBeGreaterThan(0); // the probes did talk to it
    await new Promise((r) => setTimeout(r, 3000));
    expect(far.received.filter((at) => at > gaveUp + 100)).toEqual([]);
    expect(attached).toEqual([]);
  }, 60_000);
});
