// The simulated device's USB descriptors as bytes: device, configuration (DFU interface alternates + the DFU
// functional descriptor 0x21), and string descriptors (alt names carry the DfuSe memory layout).
import { layoutString, type DfuSimConfig } from './config.js';

export const DFU_CLASS = 0xfe;
export const DFU_SUBCLASS = 0x01;

export interface DfuDescriptorSet {
  device: Uint8Array;
  configuration: Uint8Array;
  /** String descriptor index → text (0 is the language list). */
  strings: Map<number, string>;
  altNames: string[];
  protocol: 1 | 2;
}

export function attributes(cfg: DfuSimConfig): number {
  return 0x01 | 0x02 | (cfg.manifestationTolerant ? 0x04 : 0) | (cfg.willDetach ? 0x08 : 0);
}

export function buildDescriptors(cfg: DfuSimConfig, mode: 'runtime' | 'dfu'): DfuDescriptorSet {
  const protocol = mode === 'dfu' ? 2 : 1;
  const altNames =
    mode === 'runtime'
      ? ['DFU runtime']
      : cfg.dfuse
        ? [layoutString(cfg.sectors)]
        : cfg.alts.map((a) => a.name);
  const strings = new Map<number, string>([
    [1, 'Flash Station'],
    [2, cfg.dfuse ? 'Simulated DfuSe bootloader' : 'Simulated DFU device'],
    [3, cfg.serial],
  ]);
  altNames.forEach((n, i) => strings.set(4 + i, n));
  const device = Uint8Array.of(
    18, 1, 0x00, 0x02, 0, 0, 0, 64,
    cfg.vendorId & 0xff, cfg.vendorId >> 8, cfg.productId & 0xff, cfg.productId >> 8,
    mode === 'dfu' ? 0x00 : 0x01, 0x22, 1, 2, 3, 1,
  );
  const parts: number[] = [];
  altNames.forEach((_, i) => parts.push(9, 4, 0, i, 0, DFU_CLASS, DFU_SUBCLASS, protocol, 4 + i));
  const t = cfg.transferSize;
  const version = cfg.dfuse ? 0x011a : 0x0110;
  parts.push(9, 0x21, attributes(cfg), 0xff, 0x00, t & 0xff, t >> 8, version & 0xff, version >> 8);
  const total = 9 + parts.length;
  const configuration = Uint8Array.of(9, 2, total & 0xff, total >> 8, 1, 1, 0, 0x80, 50, ...parts);
  return { device, configuration, strings, altNames, protocol };
}

/** A string descriptor: index 0 lists US English, the others are UTF-16LE text. */
export function stringDescriptor(set: DfuDescriptorSet, index: number): Uint8Array | undefined {
  if (index === 0) return Uint8Array.of(4, 3, 0x09, 0x04);
  const text = set.strings.get(index);
  if (text === undefined) return undefined;
  const out = new Uint8Array(2 + text.length * 2);
  out[0] = out.length;
  out[1] = 3;
  for (let i = 0; i < text.length; i++) {
    out[2 + i * 2] = text.charCodeAt(i) & 0xff;
    out[3 + i * 2] = text.charCodeAt(i) >> 8;
  }
  return out;
}
