// What a device tile lists about a device, whatever its family: product, serial and port, then the family's own
// info keys people look for (chip, flash size, capacity, MAC, bootloader, protection), sizes in bytes made readable.
import type { Device } from '../../protocol/messages.js';
import { formatBytes } from './format.js';

export interface DeviceFact {
  label: string;
  value: string;
}

/** Info keys shown on a tile, in this order; sizes are byte counts. Station-owned keys (station*) are not facts. */
const INFO_FACTS: ReadonlyArray<{ key: string; label: string; kind?: 'bytes' | 'flag' }> = [
  { key: 'chip', label: 'Chip' },
  { key: 'flash_size', label: 'Flash', kind: 'bytes' },
  { key: 'capacity', label: 'Capacity', kind: 'bytes' },
  { key: 'removable', label: 'Removable', kind: 'flag' },
  { key: 'mac', label: 'MAC' },
  { key: 'bootloader', label: 'Bootloader' },
  { key: 'readout_protected', label: 'Read-out protection', kind: 'flag' },
  { key: 'protected', label: 'System disk', kind: 'flag' },
];

function shown(value: string | number | boolean, kind?: 'bytes' | 'flag'): string {
  if (kind === 'flag' || typeof value === 'boolean') return value === true || value === 'yes' || value === 'true' ? 'yes' : 'no';
  if (kind === 'bytes' && typeof value === 'number') return formatBytes(value);
  return String(value);
}

export function deviceFacts(device: Device): DeviceFact[] {
  const product = typeof device.info.product === 'string' ? device.info.product : device.name;
  const facts: DeviceFact[] = [
    { label: 'Product', value: product || '—' },
    { label: 'Serial', value: device.serial || '—' },
  ];
  if (device.port) facts.push({ label: 'Port', value: device.port });
  for (const { key, label, kind } of INFO_FACTS) {
    const value = device.info[key];
    if (value === undefined || value === '') continue;
    if (key === 'chip' && value === product) continue; // an STM32's name is its chip: said once
    facts.push({ label, value: shown(value, kind) });
  }
  return facts;
}

/** `PROTOCOL · TRANSPORT`, said once where both are the same word (`block`). */
export function deviceKind(device: Pick<Device, 'protocol' | 'transport'>): string {
  return device.protocol === device.transport ? device.protocol : `${device.protocol} · ${device.transport}`;
}
