// flash's arguments → one target (contract §7): partition, --address, whole device or --plan; bad combinations and
// addresses are named; a target the device's family does not take is refused before anything is sent.
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { flashRequest, targetOf, targetProblem, type FlashRequest } from '../../../src/cli/flash-request.js';
import type { Device } from '../../../src/protocol/messages.js';

const ok = (r: ReturnType<typeof flashRequest>): FlashRequest => {
  if ('usage' in r) throw new Error(r.usage);
  return r.request;
};
const usage = (r: ReturnType<typeof flashRequest>): string => ('usage' in r ? r.usage : 'accepted');

describe('flashRequest', () => {
  it('reads the four forms', () => {
    expect(ok(flashRequest({ device: 'D', positionals: ['boot', 'b.img'] }))).toEqual({ deviceId: 'D', partition: 'boot', image: resolve('b.img') });
    expect(ok(flashRequest({ device: 'D', address: '0x10000', positionals: ['app.bin'] }))).toEqual({ deviceId: 'D', address: 0x10000, image: resolve('app.bin') });
    expect(ok(flashRequest({ device: 'D', address: '64K', positionals: ['/a.bin'] })).address).toBe(65536);
    expect(ok(flashRequest({ device: 'D', address: '4096', positionals: ['/a.bin'] })).address).toBe(4096);
    expect(ok(flashRequest({ device: 'D', positionals: ['/sd.img'] }))).toEqual({ deviceId: 'D', image: '/sd.img' });
    expect(ok(flashRequest({ device: 'D', plan: 'p.yaml', positionals: [] }))).toEqual({ deviceId: 'D', plan: resolve('p.yaml') });
  });

  it('names what is wrong', () => {
    expect(usage(flashRequest({ positionals: [] }))).toMatch(/--address ADDR IMAGE.*--plan FILE/);
    expect(usage(flashRequest({ positionals: ['boot', 'b.img'] }))).toMatch(/--device ID is required/);
    expect(usage(flashRequest({ device: 'D', positionals: [] }))).toMatch(/give a target and IMAGE/);
    expect(usage(flashRequest({ device: 'D', positionals: ['a', 'b', 'c'] }))).toMatch(/too many arguments \(3\)/);
    expect(usage(flashRequest({ device: 'D', plan: 'p', positionals: ['boot', 'x'] }))).toMatch(/not both/);
    expect(usage(flashRequest({ device: 'D', plan: 'p', address: '0', positionals: [] }))).toMatch(/not both/);
    expect(usage(flashRequest({ device: 'D', address: '0x1000', positionals: ['boot', 'x'] }))).toMatch(/exactly one IMAGE/);
    for (const bad of ['-1', 'ten', '0x', '1.5', '0xZZ']) {
      expect(usage(flashRequest({ device: 'D', address: bad, positionals: ['x'] })), bad).toMatch(/is not an address/);
    }
  });
});

describe('targetProblem', () => {
  const dev = (protocol: Device['protocol'], targets?: Device['targets'], partitions?: Device['partitions']): Device => ({
    id: 'D1', protocol, transport: 'serial', name: 'x', serial: 'D1', state: 'idle', info: {}, ...(targets ? { targets } : {}), ...(partitions ? { partitions } : {}),
  });
  it('accepts what the family takes, a plan, and devices that do not say', () => {
    expect(targetProblem(dev('esp', ['address', 'partition']), { deviceId: 'D1', address: 0, image: '/a' })).toBeUndefined();
    expect(targetProblem(dev('block', ['whole']), { deviceId: 'D1', image: '/a' })).toBeUndefined();
    expect(targetProblem(dev('block', ['whole']), { deviceId: 'D1', plan: '/p' })).toBeUndefined();
    expect(targetProblem(dev('fastboot'), { deviceId: 'D1', image: '/a' })).toBeUndefined();
    expect(targetProblem(undefined, { deviceId: 'D1', image: '/a' })).toBeUndefined();
  });
  it('names what the device takes instead, with its partitions', () => {
    expect(targetProblem(dev('block', ['whole']), { deviceId: 'D1', partition: 'boot', image: '/a' }))
      .toBe('D1 (block) takes IMAGE (the whole device), not PARTITION IMAGE.');
    expect(targetProblem(dev('fastboot', ['partition'], [{ name: 'boot', size: 1 }, { name: 'system', size: 2 }]), { deviceId: 'D1', image: '/a' }))
      .toBe('D1 (fastboot) takes PARTITION IMAGE, not IMAGE (the whole device). Its partitions: boot, system.');
    expect(targetProblem(dev('stm32', ['address']), { deviceId: 'D1', image: '/a' })).toMatch(/takes --address ADDR IMAGE/);
  });
  it('tells each request\'s target', () => {
    expect(targetOf({ deviceId: 'D', address: '0x10', image: '/a' })).toBe('address');
    expect(targetOf({ deviceId: 'D', partition: 'p', image: '/a' })).toBe('partition');
    expect(targetOf({ deviceId: 'D', image: '/a' })).toBe('whole');
    expect(targetOf({ deviceId: 'D', plan: '/p' })).toBe('plan');
  });
});
