// Block-device discovery: removable disks (SD cards, USB sticks) from lsblk, polled (and nudged by udev events), plus
// disks named with --block-device. System disks are offered only marked `system: true`, so the station can refuse them.
import { spawn, type ChildProcess } from 'node:child_process';
import { realpath } from 'node:fs/promises';
import type { BlockCandidate } from '../contracts/family.js';
import type { CandidateProvider, CandidateSink } from '../contracts/provider.js';

export type { CandidateProvider, CandidateSink };
import { listDisks, usbPortOf, type DiskInfo } from '../drivers/block/disks.js';

export interface BlockProviderOptions {
  /** `--block-device PATH` (repeatable): offered even when discovery would hide them (loop devices, fixed disks). */
  devices?: readonly string[];
  /** List removable disks (false with `--no-block`; the named devices are still offered). Default true. */
  discover?: boolean;
  /** Poll interval in ms (default 2000). */
  pollMs?: number;
  /** Listen to `udevadm monitor` for a faster reaction to plugging (default true where udevadm exists). */
  udev?: boolean;
  /** The disk lister (tests); default lsblk. Called with paths to list only those. */
  list?: (paths?: readonly string[]) => Promise<DiskInfo[]>;
  log?: (message: string) => void;
  /** The root helper the desktop app writes through (src/transports/block-helper.ts), carried on each candidate. */
  helper?: string;
}

/** Whether discovery offers this disk without being asked: removable (or hot-plugged), with a medium, not a loop. */
export function offeredByDiscovery(d: DiskInfo): boolean {
  return d.type === 'disk' && d.removable && d.size > 0 && !d.name.startsWith('zram');
}

export function toCandidate(d: DiskInfo, port?: string, helper?: string): BlockCandidate {
  return {
    kind: 'block',
    key: d.path,
    transport: 'block',
    protocol: 'block',
    port: port ?? d.path,
    ...(d.serial ? { serial: d.serial } : {}),
    path: d.path,
    size: d.size,
    removable: d.removable,
    ...(d.vendor ? { vendor: d.vendor } : {}),
    ...(d.model ? { model: d.model } : {}),
    ...(d.bus ? { bus: d.bus } : {}),
    mountpoints: d.mountpoints,
    system: d.system !== undefined,
    ...(d.system !== undefined ? { protected: `${d.path} ${d.system}: it is this machine's own disk` } : {}),
    ...(helper ? { helper } : {}),
  };
}

/** What makes an offered disk a different device when it changes (a card swapped in the same reader). */
const signature = (d: DiskInfo): string => `${d.size}|${d.serial ?? ''}|${d.system ?? ''}|${d.model ?? ''}`;

export function createBlockProvider(options: BlockProviderOptions = {}): CandidateProvider {
  const discover = options.discover ?? true;
  const pollMs = options.pollMs ?? 2000;
  const list = options.list ?? ((paths?: readonly string[]) => listDisks(paths));
  const log = options.log ?? (() => undefined);
  const offered = new Map<string, string>(); // key → signature
  const warned = new Set<string>();
  let sink: CandidateSink | undefined;
  let timer: NodeJS.Timeout | undefined;
  let udev: ChildProcess | undefined;
  let scanning: Promise<void> | null = null;
  let again = false;

  const named = async (): Promise<DiskInfo[]> => {
    const out: DiskInfo[] = [];
    for (const p of options.devices ?? []) {
      const real = await realpath(p).catch(() => null);
      if (!real) {
        if (!warned.has(p)) log(`--block-device ${p}: no such device (yet); it is offered once it appears`);
        warned.add(p);
        continue;
      }
      const found = await list([real]).catch((e: unknown) => {
        if (!warned.has(p)) log(`--block-device ${p}: ${(e as Error).message}`);
        warned.add(p);
        return [];
      });
      out.push(...found.filter((d) => d.size > 0));
    }
    return out;
  };

  const scanOnce = async (): Promise<void> => {
    const disks = new Map<string, DiskInfo>();
    if (discover) {
      const all = await list().catch((e: unknown) => {
        if (!warned.has('lsblk')) log(`block devices: ${(e as Error).message}`);
        warned.add('lsblk');
        return null;
      });
      if (all === null) return; // keep what is offered: one failed listing is no reason to detach every disk
      for (const d of all) if (offeredByDiscovery(d) || d.system) disks.set(d.path, d);
    }
    for (const d of await named()) {
      if (d.system && !warned.has(`system:${d.path}`)) {
        log(`--block-device ${d.path} ${d.system}: it is this machine's own disk and is never written`);
        warned.add(`system:${d.path}`);
      }
      disks.set(d.path, d);
    }
    if (!sink) return;
    for (const [key, sig] of offered) {
      const d = disks.get(key);
      if (!d || signature(d) !== sig) {
        offered.delete(key);
        sink.withdraw(key);
      }
    }
    for (const d of disks.values()) {
      if (offered.has(d.path)) continue;
      offered.set(d.path, signature(d));
      sink.offer(toCandidate(d, d.bus === 'usb' ? await usbPortOf(d) : undefined, options.helper));
    }
  };

  /** One scan at a time; a request during a scan runs one more afterwards. */
  const scan = (): Promise<void> => {
    if (scanning) {
      again = true;
      return scanning;
    }
    scanning = (async () => {
      do {
        again = false;
        await scanOnce();
      } while (again);
    })().finally(() => {
      scanning = null;
    });
    return scanning;
  };

  const startUdev = (): void => {
    if (options.udev === false || !discover) return;
    let debounce: NodeJS.Timeout | undefined;
    try {
      udev = spawn('udevadm', ['monitor', '--udev', '--subsystem-match=block'], { stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      return;
    }
    udev.on('error', () => undefined); // no udevadm: polling alone
    udev.stdout?.on('data', () => {
      if (debounce) clearTimeout(debounce);
      debounce = setTimeout(() => void scan(), 300);
      debounce.unref();
    });
    udev.unref();
  };

  return {
    name: 'block',
    async start(s) {
      sink = s;
      await scan();
      timer = setInterval(() => void scan(), pollMs);
      timer.unref();
      startUdev();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      udev?.kill();
      udev = undefined;
      await scanning;
      sink = undefined;
    },
  };
}
