// `--sim SPEC` parsing (contract §5): `fastboot:SERIAL?max-download=16M&speed=40M&partitions=boot:64M,system:2G`.
import { FlashError } from '../../contracts/errors.js';
import { defaultSpec, type FastbootSimSpec, type SimPartitionSpec } from './config.js';
import { parseDuration, parseSize } from '../units.js';

export type SimSpec = FastbootSimSpec;

const SERIAL_RE = /^[A-Za-z0-9._-]{1,64}$/;
const PART_RE = /^[A-Za-z0-9_.-]{1,36}$/;

function bad(spec: string, why: string): never {
  throw new FlashError('bad_request', `Simulator spec "${spec}": ${why}`);
}

function parseBool(value: string): boolean {
  if (/^(1|true|yes|on)?$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  throw new RangeError(`"${value}" is not a yes/no value (use 1 or 0)`);
}

/** `boot:64M,system:2G:ext4` → partitions; a third field sets `partition-type`. */
export function parsePartitionList(text: string): SimPartitionSpec[] {
  const seen = new Set<string>();
  const out: SimPartitionSpec[] = [];
  for (const item of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [name = '', size, type, extra] = item.split(/[:=]/);
    if (!PART_RE.test(name)) throw new RangeError(`partition name "${name}" is not valid (letters, digits, _ . -)`);
    if (size === undefined || extra !== undefined) throw new RangeError(`partition "${item}" must be NAME:SIZE or NAME:SIZE:TYPE`);
    if (seen.has(name)) throw new RangeError(`partition "${name}" is listed twice`);
    seen.add(name);
    const bytes = parseSize(size, `size of partition ${name}`);
    if (bytes === 0) throw new RangeError(`partition "${name}" has size 0`);
    out.push(type ? { name, size: bytes, type } : { name, size: bytes });
  }
  if (!out.length) throw new RangeError('no partitions listed');
  return out;
}

/** Apply one `key=value` to a spec; shared by `--sim` specs and the `sim fastboot` flags. Throws RangeError. */
export function applySimOption(spec: FastbootSimSpec, key: string, value: string): void {
  const f = spec.faults;
  switch (key) {
    case 'max-download':
    case 'max-download-size': {
      const n = parseSize(value, key);
      if (n < 4096 || n > 0xffffffff) throw new RangeError(`${key} must be between 4K and 4G-1 (got ${value})`);
      spec.maxDownloadSize = n;
      return;
    }
    case 'speed':
      spec.link.bytesPerSecond = parseSize(value, key);
      return;
    case 'flash-speed':
      spec.flashBytesPerSecond = parseSize(value, key);
      return;
    case 'latency':
      spec.link.latencyMs = parseDuration(value, key);
      return;
    case 'partitions':
      spec.partitions = parsePartitionList(value);
      return;
    case 'slots':
      spec.slots = parseBool(value);
      return;
    case 'logical': {
      const names = value.split(',').map((s) => s.trim()).filter(Boolean);
      for (const n of names) {
        const p = spec.partitions.find((q) => q.name === n);
        if (!p) throw new RangeError(`logical partition "${n}" is not in the partition list (give partitions= first)`);
        p.logical = true;
      }
      return;
    }
    case 'product':
      if (!/^[\x21-\x7e]{1,64}$/.test(value)) throw new RangeError(`product "${value}" must be 1-64 printable characters`);
      spec.product = value;
      return;
    case 'reboot-delay':
      spec.rebootDelayMs = parseDuration(value, key);
      return;
    case 'locked':
      spec.locked = parseBool(value);
      return;
    case 'mode': {
      const m = value === 'userspace' ? 'fastbootd' : value;
      if (m !== 'bootloader' && m !== 'fastbootd') throw new RangeError(`mode must be bootloader or fastbootd (got ${value})`);
      spec.mode = m;
      return;
    }
    case 'udp-packet': {
      const n = parseSize(value, key);
      if (n < 512 || n > 65507) throw new RangeError(`udp-packet must be between 512 and 65507 (got ${value})`);
      spec.udpMaxPacket = n;
      return;
    }
    case 'version-bootloader':
      spec.versionBootloader = value;
      return;
    case 'version-baseband':
      spec.versionBaseband = value;
      return;
    case 'fail-after':
      f.failAfter = parseSize(value, key);
      return;
    case 'disconnect-after':
      f.disconnectAfter = parseSize(value, key);
      return;
    case 'stall-after':
      f.stallAfter = parseSize(value, key);
      return;
    case 'fail-command':
      if (!value) throw new RangeError('fail-command needs a command name, e.g. flash or getvar:product');
      f.failCommand = value;
      return;
    case 'stall-command':
      if (!value) throw new RangeError('stall-command needs a command name, e.g. flash or getvar:product');
      f.stallCommand = value;
      return;
    case 'repeat-faults':
      f.repeat = parseBool(value);
      return;
    default:
      throw new RangeError(`unknown key "${key}"`);
  }
}

/** Parse `PROTOCOL:SERIAL?key=value&…`. Throws FlashError `bad_request` with a message naming what is wrong. */
export function parseSimSpec(spec: string): SimSpec {
  const m = /^([a-z0-9]+):([^?]*)(?:\?(.*))?$/i.exec(spec.trim());
  if (!m) bad(spec, 'expected PROTOCOL:SERIAL[?key=value&…], e.g. fastboot:SIM0001?partitions=boot:64M');
  const [, protocol = '', serial = '', query] = m;
  if (protocol.toLowerCase() !== 'fastboot') bad(spec, `unknown protocol "${protocol}" (only fastboot is simulated)`);
  if (!SERIAL_RE.test(serial)) bad(spec, `serial "${serial}" must be 1-64 letters, digits, '.', '_' or '-'`);
  const out = defaultSpec(serial);
  const pairs = (query ?? '').split('&').filter(Boolean).map((kv) => {
    const i = kv.indexOf('=');
    const key = decodeURIComponent(i < 0 ? kv : kv.slice(0, i)).trim();
    const value = decodeURIComponent(i < 0 ? '' : kv.slice(i + 1)).trim();
    return [key, value] as const;
  });
  // Partition lists first, so `logical=` may name them whatever the order.
  pairs.sort((a, b) => Number(b[0] === 'partitions') - Number(a[0] === 'partitions'));
  for (const [key, value] of pairs) {
    try {
      applySimOption(out, key, value);
    } catch (e) {
      bad(spec, e instanceof Error ? e.message : String(e));
    }
  }
  return out;
}
