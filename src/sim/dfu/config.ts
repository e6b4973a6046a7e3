// What a simulated DFU device is: DfuSe or plain DFU 1.1, flash size and sectors, link speed, timings, attributes.
// Parsed from `--sim dfu:SERIAL?dfuse=1&flash=512K&speed=fs&…` (contract §7).
import { parseSize } from '../units.js';

export type DfuLinkSpeed = 'fs' | 'hs' | 'none';

/** A run of equal sectors: `count` × `size` bytes. */
export interface SectorRun {
  count: number;
  size: number;
}

/** A plain-DFU alt setting: a named region of the flash file. */
export interface DfuSimAlt {
  name: string;
  offset: number;
  size: number;
}

export interface DfuSimConfig {
  serial: string;
  dfuse: boolean;
  flashSize: number;
  /** DfuSe sectors from 0x08000000 (the layout string is made from them). */
  sectors: SectorRun[];
  /** Plain DFU alt settings (DfuSe devices have one alt, the internal flash). */
  alts: DfuSimAlt[];
  speed: DfuLinkSpeed;
  transferSize: number;
  manifestationTolerant: boolean;
  willDetach: boolean;
  /** Starts in runtime mode (FE/01/01); DETACH takes it to DFU mode. */
  runtime: boolean;
  readProtected: boolean;
  /** Flash programming speed, bytes per second (0 = instant): sets bwPollTimeout of a download block. */
  programRate: number;
  /** Sector erase time per KiB of sector, ms. */
  eraseMsPerKiB: number;
  /** Manifestation time, ms. */
  manifestMs: number;
  vendorId: number;
  productId: number;
}

export const DFUSE_BASE = 0x08000000;
export const DFUSE_PARAMS = ['dfuse', 'flash', 'speed', 'transfer-size', 'tolerant', 'will-detach', 'runtime', 'rdp',
  'program-rate', 'erase-ms-per-kib', 'manifest-ms', 'alts', 'vid', 'pid'] as const;

/** STM32F4-like sectors (4×16K, 1×64K, then 128K) for flash ≥ 128K; 2K pages (STM32F1-like) below. */
export function defaultSectors(flashSize: number): SectorRun[] {
  if (flashSize >= 128 * 1024 && flashSize % (128 * 1024) === 0) {
    return [
      { count: 4, size: 16 * 1024 },
      { count: 1, size: 64 * 1024 },
      ...(flashSize > 128 * 1024 ? [{ count: flashSize / (128 * 1024) - 1, size: 128 * 1024 }] : []),
    ];
  }
  if (flashSize % 2048 !== 0) throw new RangeError(`flash size ${flashSize} is not a multiple of 2K`);
  return [{ count: flashSize / 2048, size: 2048 }];
}

function sizeText(n: number): string {
  return n % 1024 === 0 ? `${String(n / 1024).padStart(3, '0')}K` : `${String(n).padStart(3, '0')} `;
}

/** The DfuSe alt-setting name: `@Internal Flash  /0x08000000/04*016Kg,01*064Kg,03*128Kg`. */
export function layoutString(sectors: readonly SectorRun[]): string {
  const runs = sectors.map((r) => `${String(r.count).padStart(2, '0')}*${sizeText(r.size)}g`).join(',');
  return `@Internal Flash  /0x${DFUSE_BASE.toString(16).padStart(8, '0')}/${runs}`;
}

function bool(v: string): boolean {
  if (/^(1|true|yes|on)?$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  throw new RangeError(`"${v}" is not a yes/no value (use 1 or 0)`);
}

function int(v: string, what: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${what}: "${v}" is not a whole number ≥ 0`);
  return n;
}

function parseAlts(text: string, flashSize: number): DfuSimAlt[] {
  const out: DfuSimAlt[] = [];
  let offset = 0;
  for (const item of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [name = '', size] = item.split(':');
    if (!/^[A-Za-z0-9_.-]{1,32}$/.test(name) || size === undefined) throw new RangeError(`alt "${item}" must be NAME:SIZE`);
    const bytes = parseSize(size, `size of alt ${name}`);
    out.push({ name, offset, size: bytes });
    offset += bytes;
  }
  if (!out.length) throw new RangeError('no alt settings listed');
  if (offset > flashSize) throw new RangeError(`alt settings need ${offset} bytes, more than the ${flashSize}-byte flash`);
  return out;
}

/** Builds the config; throws RangeError naming the bad key. `demo` picks the full-speed link and real-ish timings. */
export function dfuSimConfig(serial: string, params: ReadonlyMap<string, string>, demo = false): DfuSimConfig {
  const get = (k: string): string | undefined => params.get(k);
  for (const k of params.keys()) {
    if (!(DFUSE_PARAMS as readonly string[]).includes(k)) throw new RangeError(`unknown key "${k}" (takes ${DFUSE_PARAMS.join(', ')})`);
  }
  const dfuse = bool(get('dfuse') ?? '1');
  const flashSize = parseSize(get('flash') ?? '512K', 'flash');
  if (flashSize <= 0 || flashSize > 64 * 1024 * 1024) throw new RangeError('flash must be between 1 byte and 64M');
  const speed = (get('speed') ?? (demo ? 'fs' : 'none')) as DfuLinkSpeed;
  if (!['fs', 'hs', 'none'].includes(speed)) throw new RangeError(`speed "${speed}" must be fs, hs or none`);
  const transferSize = int(get('transfer-size') ?? (dfuse ? '2048' : '4096'), 'transfer-size');
  if (transferSize < 64 || transferSize > 65535 || transferSize % 64 !== 0) {
    throw new RangeError('transfer-size must be a multiple of 64 between 64 and 65472');
  }
  const alts = dfuse ? [{ name: 'flash', offset: 0, size: flashSize }] : parseAlts(get('alts') ?? `firmware:${flashSize}`, flashSize);
  return {
    serial,
    dfuse,
    flashSize,
    sectors: dfuse ? defaultSectors(flashSize) : [],
    alts,
    speed,
    transferSize,
    manifestationTolerant: bool(get('tolerant') ?? (dfuse ? '0' : '1')),
    willDetach: bool(get('will-detach') ?? '1'),
    runtime: bool(get('runtime') ?? '0'),
    readProtected: bool(get('rdp') ?? '0'),
    programRate: int(get('program-rate') ?? (demo ? String(256 * 1024) : '0'), 'program-rate'),
    eraseMsPerKiB: Number(get('erase-ms-per-kib') ?? (demo ? '0.5' : '0')),
    manifestMs: int(get('manifest-ms') ?? (demo ? '50' : '0'), 'manifest-ms'),
    vendorId: int(get('vid') ?? '1155', 'vid'),
    productId: int(get('pid') ?? String(0xdf11), 'pid'),
  };
}
