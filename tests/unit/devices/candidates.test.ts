// The candidate intake and protected candidates (a system disk, contract §7): never listed, found by key, port or
// serial so a start_flash naming one can be refused; a listed candidate that becomes protected is withdrawn.
import { describe, expect, it } from 'vitest';
import { CandidateIntake } from '../../../src/devices/candidates.js';
import type { BlockCandidate, Family } from '../../../src/contracts/family.js';
import type { AttachedDevice } from '../../../src/devices/registry.js';
import type { BlockLink } from '../../../src/contracts/links.js';

const link: BlockLink = { kind: 'block', open: () => Promise.reject(new Error('not opened here')), close: () => Promise.resolve() };
const family: Family = {
  protocol: 'block', title: 'Disk', targets: ['whole'],
  match: (c) => (c.kind === 'block' ? 1 : undefined),
  connect: () => link,
  probe: () => Promise.resolve({ info: {} }),
  run: () => Promise.resolve(),
};

function intake(): { intake: CandidateIntake; attached: string[]; detached: string[] } {
  const attached: string[] = [];
  const detached: string[] = [];
  const i = new CandidateIntake(
    { sink: { attach: (d: AttachedDevice) => attached.push(d.device.id), detach: (id) => detached.push(id) }, lockedBy: () => undefined },
    { families: [family], probeTimeoutMs: 1000, log: () => undefined },
  );
  return { intake: i, attached, detached };
}

const disk = (path: string, extra: Partial<BlockCandidate> = {}): BlockCandidate => ({
  kind: 'block', key: path, transport: 'block', protocol: 'block', port: `1-2.${path.slice(-1)}`, path, size: 1 << 30,
  removable: true, mountpoints: [], system: false, ...extra,
});

describe('CandidateIntake: protected candidates', () => {
  it('never lists a protected candidate, and finds it by key, port or serial', () => {
    const { intake: i, attached } = intake();
    i.offer(disk('/dev/sda', { system: true, serial: 'SYS1', protected: '/dev/sda holds /' }));
    i.offer(disk('/dev/sdb'));
    expect(attached).toEqual(['/dev/sdb']);
    for (const name of ['/dev/sda', '1-2.a', 'SYS1']) expect(i.protectedCandidate(name)?.protected).toBe('/dev/sda holds /');
    expect(i.protectedCandidate('/dev/sdb')).toBeUndefined();
  });

  it('withdraws a listed candidate that becomes protected, and forgets protection when it is withdrawn or freed', () => {
    const { intake: i, attached, detached } = intake();
    i.offer(disk('/dev/sdb'));
    i.offer(disk('/dev/sdb', { system: true, protected: '/dev/sdb holds /home' }));
    expect(attached).toEqual(['/dev/sdb']);
    expect(detached).toEqual(['/dev/sdb']);
    expect(i.protectedCandidate('/dev/sdb')).toBeDefined();
    i.offer(disk('/dev/sdb'));
    expect(i.protectedCandidate('/dev/sdb')).toBeUndefined();
    expect(attached).toEqual(['/dev/sdb', '/dev/sdb']);
    i.offer(disk('/dev/sdc', { protected: 'x' }));
    i.withdraw('/dev/sdc');
    expect(i.protectedCandidate('/dev/sdc')).toBeUndefined();
  });
});
