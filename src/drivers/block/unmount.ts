// Unmount a target disk's partitions before writing: udisks2 over D-Bus (udisksctl) where it runs, else umount(8).
import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';
import { promisify } from 'node:util';
import { FlashError } from '../../contracts/errors.js';
import type { DiskInfo } from './disks.js';

const run = promisify(execFile);

/** The commands used, injectable for tests. `udisks` is null where udisks2 is not available. */
export interface Unmounter {
  readonly udisks: boolean;
  unmount(partition: string, mountpoint: string): Promise<void>;
}

const SYSTEM_BUS = '/run/dbus/system_bus_socket';

async function hasUdisks(): Promise<boolean> {
  if (process.env.FLASH_STATION_UDISKS === 'off') return false;
  const bus = await access(SYSTEM_BUS).then(() => true, () => false);
  if (!bus) return false;
  return run('udisksctl', ['status'], { timeout: 5000 }).then(() => true, () => false);
}

/** udisks2 (a desktop user may unmount their own card without root) where the daemon answers, else umount. */
export async function systemUnmounter(): Promise<Unmounter> {
  const udisks = await hasUdisks();
  return {
    udisks,
    async unmount(partition, mountpoint) {
      try {
        if (udisks) await run('udisksctl', ['unmount', '--block-device', partition, '--no-user-interaction'], { timeout: 30_000 });
        else await run('umount', [mountpoint], { timeout: 30_000 });
      } catch (e) {
        const err = e as NodeJS.ErrnoException & { stderr?: string };
        throw new Error((err.stderr ?? '').trim() || err.message);
      }
    },
  };
}

/**
 * Unmount every mounted partition of `disk`, saying so through `log`. A partition that will not unmount fails with
 * `device_busy`, naming it, its mount point and what to do. `recheck` returns the disk as it is afterwards.
 */
export async function unmountDisk(
  disk: DiskInfo,
  log: (message: string) => void,
  recheck: () => Promise<DiskInfo>,
  unmounter?: Unmounter,
): Promise<void> {
  if (disk.mounted.length === 0) return;
  const u = unmounter ?? (await systemUnmounter());
  const how = u.udisks ? 'udisks2' : 'umount';
  for (const part of disk.mounted) {
    // Deepest first: a mount inside another one (/media/card/sub) comes off before its parent.
    for (const mp of [...part.mountpoints].sort((a, b) => b.length - a.length)) {
      log(`Unmounting ${part.path} from ${mp} (${how})`);
      try {
        await u.unmount(part.path, mp);
      } catch (e) {
        throw new FlashError('device_busy',
          `${part.path} is mounted at ${mp} and will not unmount: ${(e as Error).message || 'busy'} — ` +
          `close what uses it (a file manager window, a shell inside it; \`fuser -vm ${mp}\` lists them) and retry`,
          { cause: e, detail: `unmount ${part.path} (${how})` });
      }
    }
  }
  const after = await recheck();
  if (after.mounted.length > 0) {
    const still = after.mounted.map((m) => `${m.path} at ${m.mountpoints.join(', ')}`).join('; ');
    throw new FlashError('device_busy', `${disk.path} still has mounted partitions after unmounting (${still}): something mounted them again (an automounter?) — disable it for this card and retry`);
  }
}
