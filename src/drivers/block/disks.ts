// Which disks exist and which are off limits: `lsblk --json -b -O`, parsed; system disks (/, /boot, /usr, /var, /home, swap).
import { execFile } from 'node:child_process';
import { readFile, realpath } from 'node:fs/promises';
import { basename } from 'node:path';
import { promisify } from 'node:util';
import { FlashError } from '../../contracts/errors.js';

const run = promisify(execFile);

/** Mount points that make a disk the system's own: never offered, never written (contract §7). */
export const SYSTEM_MOUNTS = ['/', '/boot', '/usr', '/var', '/home'] as const;

/** One disk as lsblk reports it, with what its partitions (and their holders: LVM, dm-crypt, RAID) have mounted. */
export interface DiskInfo {
  path: string;
  name: string;
  /** `disk`, `loop`, … (lsblk TYPE). */
  type: string;
  size: number;
  removable: boolean;
  readOnly: boolean;
  vendor?: string;
  model?: string;
  serial?: string;
  /** lsblk TRAN: usb, sata, nvme, mmc, … */
  bus?: string;
  /** Mount points of the disk and everything on it. */
  mountpoints: string[];
  /** Mounted partitions (device paths) with their mount points, for unmounting. */
  mounted: Array<{ path: string; mountpoints: string[] }>;
  /** Active swap on the disk or its partitions. */
  swap: boolean;
  /** Why it is a system disk (`holds /`, `holds active swap`), or undefined. */
  system?: string;
}

interface LsblkNode {
  name?: string;
  kname?: string;
  path?: string;
  type?: string;
  size?: number | string | null;
  rm?: boolean | string | number | null;
  hotplug?: boolean | string | number | null;
  ro?: boolean | string | number | null;
  tran?: string | null;
  vendor?: string | null;
  model?: string | null;
  serial?: string | null;
  fstype?: string | null;
  mountpoint?: string | null;
  mountpoints?: Array<string | null> | null;
  children?: LsblkNode[];
}

const flag = (v: unknown): boolean => v === true || v === 1 || v === '1' || v === 'true';
const text = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v.trim() : undefined);

function isSystemMount(m: string): boolean {
  return (SYSTEM_MOUNTS as readonly string[]).includes(m) || m.startsWith('/boot/');
}

/** Parse lsblk's JSON (`--json -b -O`) into whole disks; `activeSwap` holds device paths from /proc/swaps. */
export function parseLsblk(json: string, activeSwap: ReadonlySet<string> = new Set()): DiskInfo[] {
  let doc: { blockdevices?: LsblkNode[] };
  try {
    doc = JSON.parse(json) as { blockdevices?: LsblkNode[] };
  } catch (e) {
    throw new FlashError('internal', `lsblk printed something that is not JSON: ${(e as Error).message}`, { cause: e });
  }
  const disks: DiskInfo[] = [];
  for (const node of doc.blockdevices ?? []) {
    const path = text(node.path) ?? (node.name ? `/dev/${node.name}` : undefined);
    if (!path || !node.type || !['disk', 'loop'].includes(node.type)) continue;
    const mountpoints: string[] = [];
    const mounted: DiskInfo['mounted'] = [];
    let swap = false;
    const walk = (n: LsblkNode): void => {
      const p = text(n.path) ?? (n.name ? `/dev/${n.name}` : '');
      const mps = [...(n.mountpoints ?? []), n.mountpoint].filter((m): m is string => typeof m === 'string' && m !== '');
      const unique = [...new Set(mps)];
      const real = unique.filter((m) => m !== '[SWAP]');
      if (unique.includes('[SWAP]') || activeSwap.has(p)) swap = true;
      mountpoints.push(...real);
      if (real.length) mounted.push({ path: p, mountpoints: real });
      for (const c of n.children ?? []) walk(c);
    };
    walk(node);
    const sysMount = mountpoints.find(isSystemMount);
    const vendor = text(node.vendor);
    const model = text(node.model);
    const serial = text(node.serial);
    const bus = text(node.tran);
    disks.push({
      path,
      name: text(node.name) ?? basename(path),
      type: node.type,
      size: Number(node.size ?? 0),
      removable: flag(node.rm) || flag(node.hotplug),
      readOnly: flag(node.ro),
      ...(vendor ? { vendor } : {}),
      ...(model ? { model } : {}),
      ...(serial ? { serial } : {}),
      ...(bus ? { bus } : {}),
      mountpoints: [...new Set(mountpoints)],
      mounted,
      swap,
      ...(sysMount ? { system: `holds ${sysMount}` } : swap ? { system: 'holds active swap' } : {}),
    });
  }
  return disks;
}

/** Device paths of active swap (/proc/swaps); empty where there is none or it cannot be read. */
export async function activeSwapDevices(): Promise<Set<string>> {
  const t = await readFile('/proc/swaps', 'utf8').catch(() => '');
  return new Set(t.split('\n').slice(1).map((l) => l.split(/\s+/)[0] ?? '').filter((p) => p.startsWith('/dev/')));
}

/** Every disk on this machine (lsblk). `paths` limits the listing to those devices. */
export async function listDisks(paths: readonly string[] = []): Promise<DiskInfo[]> {
  let out: string;
  try {
    ({ stdout: out } = await run('lsblk', ['--json', '-b', '-O', ...paths], { maxBuffer: 16 << 20 }));
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') throw new FlashError('unsupported', 'lsblk is not installed (Debian package util-linux): block devices cannot be listed');
    throw new FlashError('device_not_found', `lsblk could not list ${paths.join(', ') || 'the disks'}: ${(err.stderr ?? err.message).trim()}`, { cause: e });
  }
  return parseLsblk(out, await activeSwapDevices());
}

/** The disk at `path` as lsblk sees it now (symlinks such as /dev/disk/by-id/… resolved). */
export async function diskAt(path: string): Promise<DiskInfo> {
  const real = await realpath(path).catch(() => path);
  const [disk] = await listDisks([real]);
  if (!disk) throw new FlashError('device_not_found', `${path} is not a disk (lsblk lists no disk there)`);
  return disk;
}

/** Refuse a system disk with `device_protected` (before anything is opened for writing). */
export function assertNotSystem(disk: DiskInfo): void {
  if (disk.system) {
    throw new FlashError('device_protected', `${disk.path} ${disk.system}: it is this machine's own disk and is never written`,
      { detail: `mount points: ${disk.mountpoints.join(', ') || 'none'}${disk.swap ? '; active swap' : ''}` });
  }
}

/** The USB port path (`1-2.3`) a disk hangs off, from its sysfs path; undefined for non-USB disks. */
export async function usbPortOf(disk: Pick<DiskInfo, 'name'>): Promise<string | undefined> {
  const sys = await realpath(`/sys/block/${disk.name}`).catch(() => '');
  const ports = [...sys.matchAll(/\/(\d+-\d+(?:\.\d+)*)(?=\/)/g)].map((m) => m[1]);
  return ports[ports.length - 1];
}

/** Whether the disk at `path` is still there: a block device with a non-zero size in sysfs, or an existing file. */
export async function diskPresent(path: string): Promise<boolean> {
  const real = await realpath(path).catch(() => null);
  if (!real) return false;
  if (!real.startsWith('/dev/')) return true;
  const size = await readFile(`/sys/class/block/${basename(real)}/size`, 'utf8').catch(() => '0');
  return Number(size.trim()) > 0;
}
