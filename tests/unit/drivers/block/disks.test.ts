// lsblk parsing: disks with their partitions' mounts, swap, removable flags; system disks named with the reason.
import { describe, expect, it } from 'vitest';
import { assertNotSystem, parseLsblk } from '../../../../src/drivers/block/disks.js';
import { FlashError } from '../../../../src/contracts/errors.js';

const doc = {
  blockdevices: [
    { name: 'nvme0n1', path: '/dev/nvme0n1', type: 'disk', size: 512110190592, rm: false, hotplug: false, tran: 'nvme', model: 'Samsung SSD 980', mountpoints: [null],
      children: [
        { name: 'nvme0n1p1', path: '/dev/nvme0n1p1', type: 'part', mountpoints: ['/boot/efi'] },
        { name: 'nvme0n1p2', path: '/dev/nvme0n1p2', type: 'part', mountpoints: [null],
          children: [{ name: 'vg-root', path: '/dev/mapper/vg-root', type: 'lvm', mountpoints: ['/'] }] },
      ] },
    { name: 'sda', path: '/dev/sda', type: 'disk', size: '31914983424', rm: true, hotplug: true, tran: 'usb', vendor: 'SanDisk ', model: 'Ultra Fit', serial: '4C5300012305', mountpoints: [null],
      children: [
        { name: 'sda1', path: '/dev/sda1', type: 'part', mountpoints: ['/media/u/boot'] },
        { name: 'sda2', path: '/dev/sda2', type: 'part', mountpoints: ['/media/u/rootfs', '/mnt/x'] },
      ] },
    { name: 'sdb', path: '/dev/sdb', type: 'disk', size: 1000204886016, rm: false, hotplug: false, tran: 'sata', mountpoints: [null],
      children: [{ name: 'sdb1', path: '/dev/sdb1', type: 'part', mountpoints: ['[SWAP]'] }] },
    { name: 'sr0', path: '/dev/sr0', type: 'rom', size: 1073741312, rm: true },
    { name: 'loop3', path: '/dev/loop3', type: 'loop', size: 67108864, rm: false, hotplug: false, mountpoints: [null] },
    { name: 'sdc', path: '/dev/sdc', type: 'disk', size: 8000000000, rm: '1', hotplug: '0', tran: 'usb', mountpoint: '/home' },
  ],
};

describe('parseLsblk', () => {
  const disks = parseLsblk(JSON.stringify(doc), new Set());
  const by = (p: string) => disks.find((d) => d.path === p);

  it('keeps disks and loops, not optical drives', () => {
    expect(disks.map((d) => d.path)).toEqual(['/dev/nvme0n1', '/dev/sda', '/dev/sdb', '/dev/loop3', '/dev/sdc']);
  });
  it('finds a system mount below a partition and its LVM holder', () => {
    expect(by('/dev/nvme0n1')?.system).toBe('holds /boot/efi');
    expect(by('/dev/nvme0n1')?.mountpoints).toEqual(['/boot/efi', '/']);
  });
  it('a removable card with mounted partitions: not system, every mount listed for unmounting', () => {
    const sda = by('/dev/sda');
    expect(sda).toMatchObject({ removable: true, size: 31914983424, vendor: 'SanDisk', model: 'Ultra Fit', bus: 'usb', serial: '4C5300012305' });
    expect(sda?.system).toBeUndefined();
    expect(sda?.mounted).toEqual([
      { path: '/dev/sda1', mountpoints: ['/media/u/boot'] },
      { path: '/dev/sda2', mountpoints: ['/media/u/rootfs', '/mnt/x'] },
    ]);
  });
  it('active swap makes a disk a system disk', () => {
    expect(by('/dev/sdb')).toMatchObject({ swap: true, system: 'holds active swap' });
    const viaProc = parseLsblk(JSON.stringify({ blockdevices: [{ name: 'sdd', path: '/dev/sdd', type: 'disk', size: 1, children: [{ name: 'sdd1', path: '/dev/sdd1', type: 'part' }] }] }), new Set(['/dev/sdd1']));
    expect(viaProc[0]?.system).toBe('holds active swap');
  });
  it('string flags and a mounted whole disk (old lsblk `mountpoint`) count', () => {
    expect(by('/dev/sdc')).toMatchObject({ removable: true, system: 'holds /home', mounted: [{ path: '/dev/sdc', mountpoints: ['/home'] }] });
  });
  it('refuses the system disk with device_protected, and not a card', () => {
    const nvme = by('/dev/nvme0n1');
    const sda = by('/dev/sda');
    if (!nvme || !sda) throw new Error('fixture');
    let err: unknown;
    try {
      assertNotSystem(nvme);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FlashError);
    expect((err as FlashError).code).toBe('device_protected');
    expect((err as FlashError).message).toContain('/dev/nvme0n1 holds /boot/efi');
    expect(() => assertNotSystem(sda)).not.toThrow();
  });
  it('bad JSON is an internal error, not a crash', () => {
    expect(() => parseLsblk('not json')).toThrow(FlashError);
    expect(parseLsblk('{}')).toEqual([]);
  });
});
