// Control transfers over a scripted WebUSB device: data and stalls, deadlines, call order on endpoint 0, a device that
// left the bus, cancellation, descriptor reads, and the UsbLink's open (configuration, permission errors).
import { describe, expect, it } from 'vitest';
import { FlashError } from '../../../src/contracts/errors.js';
import type {
  UsbConfigurationLike,
  UsbControlSetup,
  UsbInTransferResultLike,
  UsbOutTransferResultLike,
  WebUsbDeviceLike,
} from '../../../src/contracts/webusb.js';
import { UsbControl, createUsbControlLink, isStall, openUsbError } from '../../../src/transports/usb-control.js';

type InAnswer = (setup: UsbControlSetup, length: number) => Promise<UsbInTransferResultLike>;
type OutAnswer = (setup: UsbControlSetup, data?: BufferSource) => Promise<UsbOutTransferResultLike>;

function fakeDevice(inAnswer: InAnswer, outAnswer: OutAnswer = async (_s, d) => ({ status: 'ok', bytesWritten: d ? (d as Uint8Array).byteLength : 0 })) {
  const config: UsbConfigurationLike = { configurationValue: 1, interfaces: [] };
  const calls: string[] = [];
  const state = { opened: false, configuration: null as UsbConfigurationLike | null, openError: undefined as Error | undefined };
  const device: WebUsbDeviceLike = {
    vendorId: 0x0483,
    productId: 0xdf11,
    serialNumber: 'CTRL1',
    get opened() {
      return state.opened;
    },
    get configuration() {
      return state.configuration;
    },
    configurations: [config],
    open: async () => {
      calls.push('open');
      if (state.openError) throw state.openError;
      state.opened = true;
    },
    close: async () => {
      calls.push('close');
      state.opened = false;
    },
    selectConfiguration: async (v) => {
      calls.push(`config ${v}`);
      state.configuration = config;
    },
    claimInterface: async () => undefined,
    releaseInterface: async () => undefined,
    transferIn: async () => ({ status: 'ok' }),
    transferOut: async () => ({ status: 'ok', bytesWritten: 0 }),
    controlTransferIn: (s, l) => {
      calls.push(`in ${s.request}`);
      return inAnswer(s, l);
    },
    controlTransferOut: (s, d) => {
      calls.push(`out ${s.request}`);
      return outAnswer(s, d);
    },
  };
  return { device, calls, state };
}

const setup = (request: number): UsbControlSetup => ({ requestType: 'class', recipient: 'interface', request, value: 0, index: 0 });
const view = (bytes: number[]): DataView => new DataView(new Uint8Array(bytes).buffer);

describe('UsbControl', () => {
  it('returns the bytes of an IN transfer and the count of an OUT transfer', async () => {
    const { device } = fakeDevice(async () => ({ status: 'ok', data: view([1, 2, 3]) }));
    const c = new UsbControl(device);
    expect([...(await c.in(setup(3), 6))]).toEqual([1, 2, 3]);
    expect(await c.out(setup(1), new Uint8Array(10))).toBe(10);
  });

  it('hands a request without a data stage an empty buffer (the usb package reads data.buffer)', async () => {
    const seen: unknown[] = [];
    const { device } = fakeDevice(async () => ({ status: 'ok' }), async (_s, d) => {
      seen.push(d);
      return { status: 'ok', bytesWritten: 0 };
    });
    expect(await new UsbControl(device).out(setup(4))).toBe(0);
    expect(seen[0]).toBeInstanceOf(Uint8Array);
    expect((seen[0] as Uint8Array).byteLength).toBe(0);
  });

  it('turns a stall into a UsbStallError (device_rejected) naming the request', async () => {
    const { device } = fakeDevice(async () => ({ status: 'stall' }), async () => ({ status: 'stall', bytesWritten: 0 }));
    const c = new UsbControl(device, { label: 'board X' });
    const e1 = await c.in(setup(2), 64, { what: 'DFU UPLOAD' }).catch((e: unknown) => e);
    expect(isStall(e1)).toBe(true);
    expect((e1 as FlashError).code).toBe('device_rejected');
    expect((e1 as Error).message).toContain('DFU UPLOAD');
    const e2 = await c.out(setup(1), new Uint8Array(4)).catch((e: unknown) => e);
    expect(isStall(e2)).toBe(true);
  });

  it('reports babble as a protocol error', async () => {
    const { device } = fakeDevice(async () => ({ status: 'babble', data: view([0]) }));
    const e = await new UsbControl(device).in(setup(3), 6).catch((x: unknown) => x);
    expect((e as FlashError).code).toBe('protocol_error');
  });

  it('gives up at its deadline with a transient timeout', async () => {
    const { device } = fakeDevice(() => new Promise(() => undefined));
    const c = new UsbControl(device, { label: 'board Y', timeoutMs: 30 });
    const e = await c.in(setup(3), 6, { what: 'DFU GETSTATUS' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FlashError);
    expect((e as FlashError).code).toBe('timeout');
    expect((e as FlashError).transient).toBe(true);
    expect((e as Error).message).toMatch(/board Y did not answer DFU GETSTATUS within 0.03 s/);
  });

  it('keeps transfers in call order on endpoint 0', async () => {
    const order: number[] = [];
    let release: () => void = () => undefined;
    const first = new Promise<void>((r) => (release = r));
    const { device } = fakeDevice(async (s) => {
      if (s.request === 1) await first;
      order.push(s.request);
      return { status: 'ok', data: view([s.request]) };
    });
    const c = new UsbControl(device);
    const a = c.in(setup(1), 1);
    const b = c.in(setup(2), 1);
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual([]);
    release();
    await Promise.all([a, b]);
    expect(order).toEqual([1, 2]);
  });

  it('says the device is gone (disconnected, transient) and refuses further transfers without calling the device', async () => {
    const gone = Object.assign(new Error('The device was disconnected.'), { name: 'NotFoundError' });
    const { device, calls } = fakeDevice(async () => {
      throw gone;
    });
    const c = new UsbControl(device, { label: 'board Z' });
    const e = await c.in(setup(3), 6, { what: 'DFU GETSTATUS' }).catch((x: unknown) => x);
    expect((e as FlashError).code).toBe('disconnected');
    expect((e as Error).message).toMatch(/board Z was unplugged or reset during DFU GETSTATUS — replug it/);
    expect(c.gone).toBe(true);
    const n = calls.length;
    const e2 = await c.out(setup(6)).catch((x: unknown) => x);
    expect((e2 as FlashError).code).toBe('disconnected');
    expect(calls.length).toBe(n);
  });

  it('is cancelled by its signal', async () => {
    const { device } = fakeDevice(() => new Promise(() => undefined));
    const ac = new AbortController();
    const p = new UsbControl(device).in(setup(3), 6, { signal: ac.signal }).catch((x: unknown) => x);
    ac.abort();
    expect(((await p) as FlashError).code).toBe('cancelled');
  });

  it('reads a configuration descriptor in two steps and a string descriptor as text', async () => {
    const config = [9, 2, 18, 0, 1, 1, 0, 0x80, 50, 9, 4, 0, 0, 0, 0xfe, 1, 2, 4];
    const name = '@Flash';
    const str = [2 + name.length * 2, 3, ...[...name].flatMap((ch) => [ch.charCodeAt(0), 0])];
    const asked: Array<[number, number]> = [];
    const { device } = fakeDevice(async (s, length) => {
      asked.push([s.value, length]);
      const src = s.value >> 8 === 2 ? config : str;
      return { status: 'ok', data: view(src.slice(0, length)) };
    });
    const c = new UsbControl(device);
    expect((await c.configurationDescriptor(0)).length).toBe(18);
    expect(asked).toEqual([
      [0x200, 9],
      [0x200, 18],
    ]);
    expect(await c.string(4)).toBe('@Flash');
  });

  it('refuses a configuration descriptor cut short', async () => {
    const { device } = fakeDevice(async (_s, length) => ({ status: 'ok', data: view([9, 2, 40, 0, 1, 1, 0, 0x80, 50].slice(0, length)) }));
    const e = await new UsbControl(device).configurationDescriptor(0).catch((x: unknown) => x);
    expect((e as FlashError).code).toBe('protocol_error');
  });
});

describe('createUsbControlLink', () => {
  it('opens the device and selects its first configuration when none is active', async () => {
    const { device, calls } = fakeDevice(async () => ({ status: 'ok' }));
    const link = createUsbControlLink(device);
    expect(link.kind).toBe('usb');
    expect(await link.open()).toBe(device);
    expect(calls).toEqual(['open', 'config 1']);
    await link.close();
    expect(calls.at(-1)).toBe('close');
  });

  it('names the udev rule when the OS refuses access', async () => {
    const { device, state } = fakeDevice(async () => ({ status: 'ok' }));
    state.openError = Object.assign(new Error('LIBUSB_ERROR_ACCESS'), { name: 'SecurityError' });
    const e = await createUsbControlLink(device, { label: 'board P' }).open().catch((x: unknown) => x);
    expect((e as FlashError).code).toBe('permission_denied');
    expect((e as Error).message).toMatch(/udev rule.*docs\/dfu\.md/);
  });

  it('maps open failures for any family, with that family\'s doc and the tools that may hold the device', () => {
    const hints = { docs: 'docs/x.md', holders: 'xtool' };
    const denied = openUsbError(Object.assign(new Error('LIBUSB_ERROR_ACCESS'), { name: 'SecurityError' }), 'board Q', hints);
    expect(denied).toMatchObject({ code: 'permission_denied', message: expect.stringMatching(/\(docs\/x\.md\)\.$/) });
    const busy = openUsbError(Object.assign(new Error('Unable to claim interface.'), { name: 'InvalidStateError' }), 'board Q', hints);
    expect(busy).toMatchObject({ code: 'port_busy', transient: true, message: expect.stringMatching(/close xtool or a browser tab/) });
    expect(openUsbError(new Error('LIBUSB_ERROR_NO_DEVICE'), 'board Q', hints)).toMatchObject({ code: 'disconnected', transient: true });
    expect(openUsbError(new Error('LIBUSB_ERROR_IO'), 'board Q')).toMatchObject({ code: 'device_error', message: 'Could not open board Q: LIBUSB_ERROR_IO. Replug it and try again.' });
    const already = new FlashError('cancelled', 'Cancelled');
    expect(openUsbError(already, 'board Q')).toBe(already);
  });
});
