// What a simulated fastboot device is made of: its identity, partition table, limits, link model and faults.

/** A partition as configured (before A/B expansion). */
export interface SimPartitionSpec {
  name: string;
  size: number;
  /** Reported `partition-type` (default `raw`). */
  type?: string;
  /** A logical (dynamic) partition inside `super`: only writable from userspace fastbootd. */
  logical?: boolean;
}

export interface SimFaults {
  /** Answer FAIL once this many download bytes have arrived (counted since the simulator started). */
  failAfter?: number;
  /** Vanish (unplug / drop the connection) once this many download bytes have arrived. */
  disconnectAfter?: number;
  /** Stop reading and answering once this many download bytes have arrived, until the host reconnects. */
  stallAfter?: number;
  /** Answer FAIL to this command: `flash`, `flash:boot`, `getvar:product`, `erase`, … (prefix up to a `:`). */
  failCommand?: string;
  /** Never answer this command (same matching as failCommand): the device hangs until the host reconnects. */
  stallCommand?: string;
  /** Fire each fault every time its condition is met (byte faults re-arm at the next download); default: once. */
  repeat: boolean;
}

export interface SimLinkModel {
  /** Ingest rate in bytes per second; 0 = unlimited. */
  bytesPerSecond: number;
  /** Turnaround per transfer that finds the link idle, in milliseconds (overlapped when transfers queue up). */
  latencyMs: number;
}

export type SimMode = 'bootloader' | 'fastbootd';

export interface FastbootSimSpec {
  protocol: 'fastboot';
  serial: string;
  product: string;
  partitions: SimPartitionSpec[];
  maxDownloadSize: number;
  slots: boolean;
  link: SimLinkModel;
  rebootDelayMs: number;
  /** Rate at which `flash` writes the partition, in bytes per second (RAW and FILL bytes); 0 = as fast as the disk. */
  flashBytesPerSecond: number;
  faults: SimFaults;
  locked: boolean;
  mode: SimMode;
  /** Largest UDP packet the device accepts (the host offers 8192; the smaller wins; at least 512). */
  udpMaxPacket: number;
  versionBootloader: string;
  versionBaseband: string;
}

export interface FastbootSimConfig extends FastbootSimSpec {
  /** Partition NAME lives in `storeDir/NAME.img`, a sparse file of the partition's size. */
  storeDir: string;
}

/** The partitions of contract §1: boot=64M, system=2G, vendor=512M, userdata=4G. */
export const DEFAULT_PARTITIONS: readonly SimPartitionSpec[] = [
  { name: 'boot', size: 64 * 1024 ** 2 },
  { name: 'system', size: 2 * 1024 ** 3 },
  { name: 'vendor', size: 512 * 1024 ** 2 },
  { name: 'userdata', size: 4 * 1024 ** 3 },
];

/** Partitions that stay single on an A/B device (as on Android phones). */
export const UNSLOTTED = new Set(['userdata', 'metadata', 'misc', 'cache', 'persist', 'frp', 'super', 'modemst1', 'modemst2']);

export function defaultSpec(serial: string): FastbootSimSpec {
  return {
    protocol: 'fastboot',
    serial,
    product: 'flashsim',
    partitions: DEFAULT_PARTITIONS.map((p) => ({ ...p })),
    maxDownloadSize: 256 * 1024 ** 2,
    slots: false,
    link: { bytesPerSecond: 0, latencyMs: 0 },
    rebootDelayMs: 1000,
    flashBytesPerSecond: 0,
    faults: { repeat: false },
    locked: false,
    mode: 'bootloader',
    udpMaxPacket: 8192,
    versionBootloader: 'flashsim-1.0',
    versionBaseband: 'none',
  };
}

/** A physical (as the device reports it) partition: slot suffix applied. */
export interface SimPartition {
  name: string;
  base: string;
  slot?: 'a' | 'b';
  size: number;
  type: string;
  logical: boolean;
}

/** Expand the configured table into the partitions the device reports (NAME_a/NAME_b on A/B devices). */
export function expandPartitions(spec: Pick<FastbootSimSpec, 'partitions' | 'slots'>): SimPartition[] {
  const out: SimPartition[] = [];
  for (const p of spec.partitions) {
    const common = { base: p.name, size: p.size, type: p.type ?? 'raw', logical: p.logical ?? false };
    if (spec.slots && !UNSLOTTED.has(p.name) && !/_[ab]$/.test(p.name)) {
      out.push({ ...common, name: `${p.name}_a`, slot: 'a' }, { ...common, name: `${p.name}_b`, slot: 'b' });
    } else {
      out.push({ ...common, name: p.name });
    }
  }
  return out;
}
