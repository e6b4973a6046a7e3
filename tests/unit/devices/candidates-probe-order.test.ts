// The intake probes a candidate that several families match in match() order, each on its own link (the previous one
// closed first); the first that answers claims it; none → unclaimed, every link closed; a withdraw mid-probe stops it.
import { describe, expect, it } from 'vitest';
import { FlashError } from '../../../src/contracts/errors.js';
import type { DeviceDescription, Family, SerialCandidate } from '../../../src/contracts/family.js';
import type { DeviceLink } from '../../../src/contracts/links.js';
import { CandidateIntake, matchingFamilies } from '../../../src/devices/candidates.js';
import type { AttachedDevice } from '../../../src/devices/registry.js';
import type { DeviceProtocol } from '../../../src/protocol/messages.js';

interface Trace { events: string[] }

function family(protocol: DeviceProtocol, score: number | undefined, probe: (signal: AbortSignal) => Promise<DeviceDescription>, trace: Trace): Family {
  return {
    protocol, title: protocol, targets: ['address'],
    match: () => score,
    connect: (): DeviceLink => {
      trace.events.push(`${protocol}:connect`);
      return { open: async () => Promise.reject(new Error('unused')), close: async () => void trace.events.push(`${protocol}:close`) };
    },
    probe: async (_link, _c, signal) => {
      trace.events.push(`${protocol}:probe`);
      return probe(signal);
    },
    run: async () => undefined,
  };
}

const refuse = async (): Promise<DeviceDescription> => Promise.reject(new FlashError('device_rejected', 'no answer'));
const answer = async (): Promise<DeviceDescription> => ({ name: 'board', info: { chip: 'x' } });
const bridge: SerialCandidate = { kind: 'serial', key: '/dev/ttyUSB0', transport: 'serial', path: '/dev/ttyUSB0', port: '/dev/ttyUSB0', vendorId: 0x10c4, productId: 0xea60 };

function intake(families: Family[], probeTimeoutMs = 1000): { i: CandidateIntake; attached: AttachedDevice[]; log: string[] } {
  const attached: AttachedDevice[] = [];
  const log: string[] = [];
  const i = new CandidateIntake({ sink: { attach: (d) => attached.push(d), detach: () => undefined }, lockedBy: () => undefined }, { families, probeTimeoutMs, log: (l) => log.push(l) });
  return { i, attached, log };
}

const settle = (ms = 20): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('probing a candidate several families match', () => {
  it('orders the families by match(), highest first, leaving out those that do not match', () => {
    const t: Trace = { events: [] };
    const fams = [family('stm32', 10, answer, t), family('fastboot', undefined, answer, t), family('esp', 50, answer, t)];
    expect(matchingFamilies(fams, bridge).map((f) => f.protocol)).toEqual(['esp', 'stm32']);
    expect(matchingFamilies(fams, { ...bridge, protocol: 'stm32' }).map((f) => f.protocol)).toEqual(['stm32']);
  });

  it('hands the port to the next family when the first refuses, its link closed before the next opens', async () => {
    const t: Trace = { events: [] };
    const { i, attached, log } = intake([family('stm32', 10, answer, t), family('esp', 50, refuse, t)]);
    i.offer(bridge);
    await settle();
    expect(t.events).toEqual(['esp:connect', 'esp:probe', 'esp:close', 'stm32:connect', 'stm32:probe']);
    expect(attached.map((a) => [a.family.protocol, a.device.protocol, a.device.name, a.description?.name])).toEqual([['stm32', 'stm32', 'stm32 /dev/ttyUSB0', 'board']]);
    expect(log).toEqual(['/dev/ttyUSB0: not a esp device (no answer); trying stm32']);
  });

  it('leaves a port nobody answers unclaimed, every link closed', async () => {
    const t: Trace = { events: [] };
    const { i, attached, log } = intake([family('esp', 50, refuse, t), family('stm32', 10, refuse, t)]);
    i.offer(bridge);
    await settle();
    expect(t.events).toEqual(['esp:connect', 'esp:probe', 'esp:close', 'stm32:connect', 'stm32:probe', 'stm32:close']);
    expect(attached).toEqual([]);
    expect(log.at(-1)).toBe('/dev/ttyUSB0: not a stm32 device (no answer); left unclaimed');
  });

  it('bounds each probe: one that never answers is cut off and the next family still gets its turn', async () => {
    const t: Trace = { events: [] };
    const hang = (signal: AbortSignal): Promise<DeviceDescription> => new Promise((_, reject) => signal.addEventListener('abort', () => reject(new FlashError('cancelled', 'stopped'))));
    const { i, attached, log } = intake([family('esp', 50, hang, t), family('stm32', 10, answer, t)], 50);
    i.offer(bridge);
    await settle(150);
    expect(log).toEqual(['/dev/ttyUSB0: not a esp device (no answer in time); trying stm32']);
    expect(attached.map((a) => a.family.protocol)).toEqual(['stm32']);
  });

  it('stops at a withdraw (unplugged mid-probe): no further family, the link closed, nothing listed', async () => {
    const t: Trace = { events: [] };
    let release: () => void = () => undefined;
    const slow = (): Promise<DeviceDescription> => new Promise((_, reject) => (release = () => reject(new FlashError('disconnected', 'gone'))));
    const { i, attached } = intake([family('esp', 50, slow, t), family('stm32', 10, answer, t)]);
    i.offer(bridge);
    await settle();
    i.withdraw(bridge.key);
    release();
    await settle();
    expect(t.events).toEqual(['esp:connect', 'esp:probe', 'esp:close']);
    expect(attached).toEqual([]);
  });
});
