// Block provider: which disks it offers, system disks marked, named devices, hot-plug by polling, lister failures.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createBlockProvider, type CandidateSink } from '../../../src/devices/block-provider.js';
import type { BlockCandidate, Candidate } from '../../../src/contracts/family.js';
import { createBlockFamily } from '../../../src/drivers/block/index.js';
import type { DiskInfo } from '../../../src/drivers/block/disks.js';

const disk = (path: string, extra: Partial<DiskInfo> = {}): DiskInfo => ({
  path, name: path.slice(5), type: 'disk', size: 8 * 2 ** 30, removable: true, readOnly: false, mountpoints: [], mounted: [], swap: false, ...extra,
});

function recorder(): CandidateSink & { offered: Candidate[]; withdrawn: string[] } {
  const r = { offered: [] as Candidate[], withdrawn: [] as string[], offer: (c: Candidate) => r.offered.push(c), withdraw: (k: string) => r.withdrawn.push(k) };
  return r;
}

afterEach(() => vi.useRealTimers());

describe('createBlockProvider', () => {
  it('offers removable disks, marks system disks, hides fixed disks and empty readers', async () => {
    const list = async () => [
      disk('/dev/sdb', { vendor: 'Generic', model: 'SD Reader', bus: 'usb' }),
      disk('/dev/sda', { removable: false, system: 'holds /', mountpoints: ['/'] }),
      disk('/dev/sdc', { removable: false }),
      disk('/dev/sdd', { size: 0 }),
      disk('/dev/loop0', { type: 'loop', removable: false }),
    ];
    const p = createBlockProvider({ list, udev: false });
    const sink = recorder();
    await p.start(sink);
    await p.stop();
    expect(sink.offered.map((c) => c.key)).toEqual(['/dev/sdb', '/dev/sda']);
    expect(sink.offered[0]).toMatchObject({ kind: 'block', transport: 'block', path: '/dev/sdb', removable: true, system: false, vendor: 'Generic' });
    expect(sink.offered[1]).toMatchObject({ system: true, protected: "/dev/sda holds /: it is this machine's own disk" });
    expect(sink.offered[0]?.protected).toBeUndefined();
  });

  it('offers a named device discovery would hide, even with --no-block', async () => {
    const list = vi.fn(async (paths?: readonly string[]) => (paths ? [disk('/dev/loop0', { type: 'loop', removable: false })] : []));
    const p = createBlockProvider({ list, devices: ['/dev/null'] /* any existing path: the injected lister answers */, discover: false, udev: false });
    const sink = recorder();
    await p.start(sink);
    await p.stop();
    expect(list).toHaveBeenCalledTimes(1);
    expect(sink.offered.map((c) => c.key)).toEqual(['/dev/loop0']);
  });

  it('carries the desktop app\'s privilege helper on each disk, and the family links it for elevated writes', async () => {
    const helper = '/usr/lib/flash-station/flash-station-block-helper';
    const p = createBlockProvider({ list: async () => [disk('/dev/sdb')], helper, udev: false });
    const sink = recorder();
    await p.start(sink);
    await p.stop();
    expect(sink.offered[0]).toMatchObject({ path: '/dev/sdb', helper });
    expect(createBlockFamily().connect(sink.offered[0] as Candidate)).toMatchObject({ path: '/dev/sdb', elevated: true });
    expect(createBlockFamily().connect({ ...(sink.offered[0] as BlockCandidate), helper: undefined })).toMatchObject({ elevated: false });
  });

  it('withdraws a disk that goes away and offers again one that changed (a card swapped in a reader)', async () => {
    vi.useFakeTimers();
    let now: DiskInfo[] = [disk('/dev/sdb', { serial: 'A' })];
    const p = createBlockProvider({ list: async () => now, udev: false, pollMs: 1000 });
    const sink = recorder();
    await p.start(sink);
    now = [disk('/dev/sdb', { serial: 'B' })];
    await vi.advanceTimersByTimeAsync(1000);
    now = [];
    await vi.advanceTimersByTimeAsync(1000);
    await p.stop();
    expect(sink.offered.map((c) => c.serial)).toEqual(['A', 'B']);
    expect(sink.withdrawn).toEqual(['/dev/sdb', '/dev/sdb']);
  });

  it('a failed listing keeps what is offered and says why once', async () => {
    vi.useFakeTimers();
    let fail = false;
    const logs: string[] = [];
    const p = createBlockProvider({ list: async () => { if (fail) throw new Error('lsblk: boom'); return [disk('/dev/sdb')]; }, udev: false, pollMs: 1000, log: (m) => logs.push(m) });
    const sink = recorder();
    await p.start(sink);
    fail = true;
    await vi.advanceTimersByTimeAsync(3000);
    await p.stop();
    expect(sink.withdrawn).toEqual([]);
    expect(logs).toEqual(['block devices: lsblk: boom']);
  });
});
