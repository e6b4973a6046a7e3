// DFU descriptors: the configuration walk (DFU interface, alternates, functional descriptor 0x21 of DFU 1.0 and 1.1),
// its refusals, and reading alt names from WebUSB or from string descriptors.
import { describe, expect, it } from 'vitest';
import { FlashError } from '../../../../src/contracts/errors.js';
import type { UsbControlSetup, UsbInTransferResultLike, UsbOutTransferResultLike, WebUsbDeviceLike } from '../../../../src/contracts/webusb.js';
import { findDfuInterface, parseConfiguration, parseFunctional, readDfuInterface } from '../../../../src/drivers/dfu/descriptors.js';
import { dfuSimConfig, layoutString } from '../../../../src/sim/dfu/config.js';
import { buildDescriptors } from '../../../../src/sim/dfu/descriptors.js';
import { UsbControl } from '../../../../src/transports/usb-control.js';

const iface = (n: number, alt: number, cls: number, sub: number, proto: number, iName: number): number[] => [9, 4, n, alt, 0, cls, sub, proto, iName];
const functional = (attrs: number, detach: number, transfer: number, version?: number): number[] =>
  version === undefined
    ? [7, 0x21, attrs, detach & 0xff, detach >> 8, transfer & 0xff, transfer >> 8]
    : [9, 0x21, attrs, detach & 0xff, detach >> 8, transfer & 0xff, transfer >> 8, version & 0xff, version >> 8];
function config(...parts: number[][]): Uint8Array {
  const body = parts.flat();
  const total = 9 + body.length;
  return Uint8Array.of(9, 2, total & 0xff, total >> 8, 1, 1, 0, 0x80, 50, ...body);
}

function refusal(fn: () => unknown): FlashError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FlashError);
    return e as FlashError;
  }
  throw new Error('expected a FlashError');
}

/**
 * A USB device that answers GET_DESCRIPTOR from bytes (configuration 0 and strings) and nothing else; WebUSB names its
 * alternates with `webusbNames` (what the OS cached) or leaves them unnamed, as some platforms do.
 */
function descriptorDevice(configuration: Uint8Array, strings: Map<number, string>, webusbNames: (string | null)[] = []): WebUsbDeviceLike & { requests: string[] } {
  const requests: string[] = [];
  const alternates = webusbNames.map((name, i) => ({ alternateSetting: i, interfaceClass: 0xfe, interfaceSubclass: 1, interfaceProtocol: 2, interfaceName: name, endpoints: [] }));
  const cfg = { configurationValue: 1, interfaces: [{ interfaceNumber: 0, alternate: alternates[0]!, alternates, claimed: true }] };
  const answer = (bytes: Uint8Array | undefined, length: number): UsbInTransferResultLike =>
    bytes ? { status: 'ok', data: new DataView(bytes.slice(0, length).buffer) } : { status: 'stall' };
  return {
    requests,
    vendorId: 0x0483,
    productId: 0xdf11,
    opened: true,
    configuration: webusbNames.length ? cfg : null,
    configurations: webusbNames.length ? [cfg] : [],
    open: async () => undefined,
    close: async () => undefined,
    selectConfiguration: async () => undefined,
    claimInterface: async () => undefined,
    releaseInterface: async () => undefined,
    transferIn: async (): Promise<UsbInTransferResultLike> => ({ status: 'stall' }),
    transferOut: async (): Promise<UsbOutTransferResultLike> => ({ status: 'stall', bytesWritten: 0 }),
    controlTransferIn: async (setup: UsbControlSetup, length: number): Promise<UsbInTransferResultLike> => {
      const type = setup.value >> 8;
      const index = setup.value & 0xff;
      requests.push(`GET_DESCRIPTOR ${type} ${index}`);
      if (setup.request !== 6) return { status: 'stall' };
      if (type === 2 && index === 0) return answer(configuration, length);
      const text = type === 3 ? strings.get(index) : undefined;
      if (text === undefined) return answer(undefined, length);
      const d = new Uint8Array(2 + 2 * text.length);
      d[0] = d.length;
      d[1] = 3;
      for (let i = 0; i < text.length; i++) d[2 + 2 * i] = text.charCodeAt(i);
      return answer(d, length);
    },
  };
}

describe('parseFunctional', () => {
  it('reads a DFU 1.1 descriptor and its attribute bits', () => {
    expect(parseFunctional(Uint8Array.of(...functional(0x0b, 255, 2048, 0x011a)), 0)).toEqual({
      canDownload: true,
      canUpload: true,
      manifestationTolerant: false,
      willDetach: true,
      detachTimeoutMs: 255,
      transferSize: 2048,
      version: 0x011a,
    });
    expect(parseFunctional(Uint8Array.of(0, 0, ...functional(0x04, 1000, 64, 0x0110)), 2)).toMatchObject({
      canDownload: false,
      canUpload: false,
      manifestationTolerant: true,
      willDetach: false,
      detachTimeoutMs: 1000,
      transferSize: 64,
    });
  });

  it('takes a 7-byte DFU 1.0 descriptor as version 1.0', () => {
    expect(parseFunctional(Uint8Array.of(...functional(0x01, 100, 1024)), 0).version).toBe(0x0100);
  });
});

describe('parseConfiguration', () => {
  it('reads what the DfuSe simulator announces (one alt, 0x011A) and the plain DFU one (several alts, 0x0110)', () => {
    const dfuse = dfuSimConfig('S1', new Map([['flash', '256K'], ['transfer-size', '1024']]));
    const c = parseConfiguration(buildDescriptors(dfuse, 'dfu').configuration);
    expect(c).toEqual({
      interfaceNumber: 0,
      protocol: 2,
      alts: [{ alt: 0, iInterface: 4 }],
      functional: { canDownload: true, canUpload: true, manifestationTolerant: false, willDetach: true, detachTimeoutMs: 255, transferSize: 1024, version: 0x011a },
    });
    const plain = dfuSimConfig('S2', new Map([['dfuse', '0'], ['flash', '64K'], ['alts', 'boot:16K,app:48K']]));
    const p = parseConfiguration(buildDescriptors(plain, 'dfu').configuration);
    expect(p.alts).toEqual([{ alt: 0, iInterface: 4 }, { alt: 1, iInterface: 5 }]);
    expect(p.functional).toMatchObject({ manifestationTolerant: true, transferSize: 4096, version: 0x0110 });
    expect(parseConfiguration(buildDescriptors(plain, 'runtime').configuration).protocol).toBe(1);
  });

  it('skips other interfaces and their class descriptors, and keeps to the first DFU interface', () => {
    const c = parseConfiguration(
      config(
        iface(0, 0, 0x02, 0x02, 0x01, 0),
        [5, 0x24, 0, 0x10, 0x01], // CDC header: not a DFU functional descriptor
        [9, 0x21, 0x0f, 0, 0, 0, 0, 0, 0], // an 0x21 outside a DFU interface (HID) is not ours
        iface(1, 0, 0xfe, 0x01, 0x02, 7),
        iface(1, 1, 0xfe, 0x01, 0x02, 8),
        functional(0x07, 50, 512, 0x0110),
        iface(2, 0, 0xfe, 0x01, 0x02, 9),
        functional(0x01, 0, 64, 0x0100),
      ),
    );
    expect(c.interfaceNumber).toBe(1);
    expect(c.alts).toEqual([{ alt: 0, iInterface: 7 }, { alt: 1, iInterface: 8 }]);
    expect(c.functional.transferSize).toBe(512);
  });

  it('refuses a configuration without a DFU interface, without a functional descriptor, or with wTransferSize 0', () => {
    expect(refusal(() => parseConfiguration(config(iface(0, 0, 0xff, 0x42, 0x03, 0)))).code).toBe('unsupported');
    expect(refusal(() => parseConfiguration(config(iface(0, 0, 0xfe, 0x01, 0x02, 0)))).code).toBe('protocol_error');
    const zero = refusal(() => parseConfiguration(config(iface(0, 0, 0xfe, 0x01, 0x02, 0), functional(0x03, 0, 0, 0x0110))));
    expect(zero.code).toBe('protocol_error');
    expect(zero.message).toContain('wTransferSize 0');
  });

  it('stops at a descriptor that runs past the end instead of reading beyond it', () => {
    const whole = config(iface(0, 0, 0xfe, 0x01, 0x02, 0), functional(0x03, 0, 256, 0x0110));
    expect(parseConfiguration(whole).functional.transferSize).toBe(256);
    expect(refusal(() => parseConfiguration(whole.subarray(0, whole.length - 1))).message).toContain('no DFU functional descriptor');
    expect(refusal(() => parseConfiguration(Uint8Array.of(9, 2, 0, 0, 1, 1, 0, 0x80, 50, 1, 4))).code).toBe('unsupported');
  });
});

describe('findDfuInterface', () => {
  it('finds a DFU-mode or runtime interface from WebUSB alone, and nothing on other devices', () => {
    const dfu = descriptorDevice(new Uint8Array(0), new Map(), ['@Internal Flash']);
    expect(findDfuInterface(dfu)).toEqual({ interfaceNumber: 0, protocol: 2 });
    const other: WebUsbDeviceLike = {
      ...dfu,
      configuration: null,
      configurations: [{ configurationValue: 1, interfaces: [{ interfaceNumber: 0, claimed: false, alternates: [], alternate: { alternateSetting: 0, interfaceClass: 0xff, interfaceSubclass: 0x42, interfaceProtocol: 3, endpoints: [] } }] }],
    };
    expect(findDfuInterface(other)).toBeUndefined();
    const runtime: WebUsbDeviceLike = {
      ...other,
      configurations: [{ configurationValue: 1, interfaces: [{ interfaceNumber: 3, claimed: false, alternates: [], alternate: { alternateSetting: 0, interfaceClass: 0xfe, interfaceSubclass: 1, interfaceProtocol: 1, endpoints: [] } }] }],
    };
    expect(findDfuInterface(runtime)).toEqual({ interfaceNumber: 3, protocol: 1 });
  });
});

describe('readDfuInterface', () => {
  const layout = layoutString([{ count: 4, size: 16384 }]);
  const bytes = config(iface(0, 0, 0xfe, 0x01, 0x02, 4), iface(0, 1, 0xfe, 0x01, 0x02, 5), iface(0, 2, 0xfe, 0x01, 0x02, 0), functional(0x0b, 255, 2048, 0x011a));
  const strings = new Map([[4, layout], [5, '@Option Bytes  /0x1FFFC000/01*016 e']]);

  it('names alternates from WebUSB when it knows them, without string requests', async () => {
    const dev = descriptorDevice(bytes, strings, ['flash', 'options', 'otp']);
    const info = await readDfuInterface(new UsbControl(dev, { label: 'test' }));
    expect(info.alts.map((a) => a.name)).toEqual(['flash', 'options', 'otp']);
    expect(dev.requests.filter((r) => r.startsWith('GET_DESCRIPTOR 3'))).toEqual([]);
    expect(info.functional.version).toBe(0x011a);
  });

  it('reads the names WebUSB lacks from string descriptors, and calls an alt without one altN', async () => {
    const dev = descriptorDevice(bytes, strings, [null, null, null]);
    const info = await readDfuInterface(new UsbControl(dev, { label: 'test' }));
    expect(info.alts).toEqual([
      { alt: 0, iInterface: 4, name: layout },
      { alt: 1, iInterface: 5, name: '@Option Bytes  /0x1FFFC000/01*016 e' },
      { alt: 2, iInterface: 0, name: 'alt2' },
    ]);
  });

  it('keeps going when a string descriptor is refused (stall): the alt is called altN', async () => {
    const dev = descriptorDevice(bytes, new Map([[4, layout]]), []);
    const info = await readDfuInterface(new UsbControl(dev, { label: 'test' }));
    expect(info.alts.map((a) => a.name)).toEqual([layout, 'alt1', 'alt2']);
    expect(dev.requests).toContain('GET_DESCRIPTOR 3 5');
  });
});
