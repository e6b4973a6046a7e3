// The USB transport's bulk traffic against a recording WebUSB device: several OUT transfers in flight (never more than
// asked), transfers cut at the transfer size, never a zero-length packet, IN reads of at least 256 bytes in whole
// packets, and a 30 s deadline by default.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_COMMAND_TIMEOUT_MS, DEFAULT_IN_FLIGHT, MIN_READ_SIZE, createWebUsbLink } from '../../../src/transports/usb.js';
import { DEFAULT_TIMEOUTS } from '../../../src/drivers/fastboot/index.js';
import type { UsbConfigurationLike, UsbInTransferResultLike, UsbOutTransferResultLike, WebUsbDeviceLike } from '../../../src/contracts/webusb.js';
import { FASTBOOT_USB } from '../../../src/transports/fastboot-usb-interface.js';

interface PendingOut {
  length: number;
  timeout: number | undefined;
  settle(): void;
}

/** A fastboot-shaped WebUSB device that holds every OUT transfer until the test settles it, and records IN lengths. */
function recordingDevice(packetSize = 512) {
  const alt = {
    alternateSetting: 0,
    interfaceClass: 0xff,
    interfaceSubclass: 0x42,
    interfaceProtocol: 0x03,
    endpoints: [
      { endpointNumber: 1, direction: 'in' as const, type: 'bulk' as const, packetSize },
      { endpointNumber: 2, direction: 'out' as const, type: 'bulk' as const, packetSize },
    ],
  };
  const config: UsbConfigurationLike = { configurationValue: 1, interfaces: [{ interfaceNumber: 0, alternate: alt, alternates: [alt], claimed: false }] };
  const outs: PendingOut[] = [];
  const ins: Array<{ length: number; timeout: number | undefined }> = [];
  let active = 0;
  let maxActive = 0;
  let answer: string | undefined;
  const device: WebUsbDeviceLike = {
    vendorId: 0x0b0b,
    productId: 0x0001,
    serialNumber: 'REC1',
    opened: false,
    configuration: config,
    configurations: [config],
    open: async () => undefined,
    close: async () => undefined,
    selectConfiguration: async () => undefined,
    claimInterface: async () => undefined,
    releaseInterface: async () => undefined,
    transferOut: (_ep, data, timeout) =>
      new Promise<UsbOutTransferResultLike>((resolve) => {
        const length = (data as Uint8Array).byteLength;
        active++;
        maxActive = Math.max(maxActive, active);
        outs.push({
          length,
          timeout,
          settle: () => {
            active--;
            resolve({ status: 'ok', bytesWritten: length });
          },
        });
      }),
    transferIn: (_ep, length, timeout) => {
      ins.push({ length, timeout });
      if (answer === undefined) return new Promise<UsbInTransferResultLike>(() => undefined);
      const bytes = new TextEncoder().encode(answer);
      return Promise.resolve({ status: 'ok', data: new DataView(bytes.buffer) });
    },
  };
  return {
    device,
    outs,
    ins,
    get maxActive() {
      return maxActive;
    },
    answerWith(text: string) {
      answer = text;
    },
  };
}

/** Settles OUT transfers one at a time, oldest first, until `done` resolves. */
async function settleUntil<T>(rec: ReturnType<typeof recordingDevice>, done: Promise<T>): Promise<T> {
  let finished = false;
  const result = done.finally(() => (finished = true));
  let next = 0;
  while (!finished) {
    await new Promise((r) => setImmediate(r));
    const o = rec.outs[next];
    if (o) {
      next++;
      o.settle();
    }
  }
  return result;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('USB transport: OUT transfers', () => {
  it('keeps several transfers in flight, never more than asked, cut at the transfer size', async () => {
    const rec = recordingDevice();
    const t = await createWebUsbLink(rec.device, FASTBOOT_USB, { transferSize: 16 * 1024, inFlight: 3 }).open();
    const data = new Uint8Array(10 * 16 * 1024 + 100);
    const written = t.write(data);
    // Before anything is acknowledged, exactly three transfers are on the bus.
    await new Promise((r) => setImmediate(r));
    expect(rec.outs.length).toBe(3);
    await settleUntil(rec, written.then(() => t.drain()));
    expect(rec.maxActive).toBe(3);
    expect(rec.outs.map((o) => o.length)).toEqual([...Array<number>(10).fill(16 * 1024), 100]);
    await t.close();
  });

  it("calls a write's `sent` once its last transfer has ended, not when the write resolves", async () => {
    const rec = recordingDevice();
    const t = await createWebUsbLink(rec.device, FASTBOOT_USB, { transferSize: 16 * 1024, inFlight: 4 }).open();
    const sent: string[] = [];
    // Two writes of two transfers each fit in flight together: both resolve while all four transfers are pending.
    await t.write(new Uint8Array(32 * 1024), undefined, () => sent.push('a'));
    await t.write(new Uint8Array(32 * 1024), undefined, () => sent.push('b'));
    expect(rec.outs.length).toBe(4);
    expect(sent).toEqual([]); // the device may still read either buffer: neither may be refilled yet
    const settleAndLook = async (i: number): Promise<string[]> => {
      rec.outs[i]?.settle();
      await new Promise((r) => setImmediate(r));
      return [...sent];
    };
    expect(await settleAndLook(0)).toEqual([]);
    expect(await settleAndLook(1)).toEqual(['a']);
    expect(await settleAndLook(2)).toEqual(['a']);
    expect(await settleAndLook(3)).toEqual(['a', 'b']);
    await t.close();
  });

  it('defaults to several in flight (4), and 1 means one at a time', async () => {
    expect(DEFAULT_IN_FLIGHT).toBeGreaterThan(1);
    const rec = recordingDevice();
    const t = await createWebUsbLink(rec.device, FASTBOOT_USB, { transferSize: 16 * 1024 }).open();
    const written = t.write(new Uint8Array(64 * 1024 * 4));
    await new Promise((r) => setImmediate(r));
    expect(rec.outs.length).toBe(DEFAULT_IN_FLIGHT);
    await settleUntil(rec, written.then(() => t.drain()));
    const one = recordingDevice();
    const t1 = await createWebUsbLink(one.device, FASTBOOT_USB, { transferSize: 16 * 1024, inFlight: 1 }).open();
    await settleUntil(one, t1.write(new Uint8Array(5 * 16 * 1024)).then(() => t1.drain()));
    expect(one.maxActive).toBe(1);
    expect(one.outs.length).toBe(5);
  });

  it('never sends a zero-length packet: an empty write sends nothing, and no transfer is ever empty', async () => {
    const rec = recordingDevice();
    const t = await createWebUsbLink(rec.device, FASTBOOT_USB, { transferSize: 16 * 1024 }).open();
    await t.write(new Uint8Array(0));
    await t.drain();
    expect(rec.outs).toEqual([]);
    // Sizes that are whole multiples of the packet and of the transfer size end on a full transfer, with no ZLP after.
    for (const size of [512, 16 * 1024, 2 * 16 * 1024]) await settleUntil(rec, t.write(new Uint8Array(size)).then(() => t.drain()));
    expect(rec.outs.map((o) => o.length)).toEqual([512, 16 * 1024, 16 * 1024, 16 * 1024]);
    expect(rec.outs.every((o) => o.length > 0)).toBe(true);
  });

  it('gives each transfer the command deadline (30 s unless told)', async () => {
    const rec = recordingDevice();
    const t = await createWebUsbLink(rec.device, FASTBOOT_USB).open();
    await settleUntil(rec, t.write(new Uint8Array(1)).then(() => t.drain()));
    expect(rec.outs[0]?.timeout).toBe(30_000);
  });
});

describe('USB transport: IN reads', () => {
  it('reads into buffers of at least 256 bytes, in whole packets, whatever the caller asks', async () => {
    for (const [packet, ask, want] of [
      [512, 4, 512],
      [512, 256, 512],
      [64, 4, 256],
      [64, 300, 320],
      [1024, 64, 1024],
    ] as const) {
      const rec = recordingDevice(packet);
      rec.answerWith('OKAY');
      const t = await createWebUsbLink(rec.device, FASTBOOT_USB).open();
      expect(Buffer.from(await t.read(ask)).toString('latin1')).toBe('OKAY'.slice(0, ask));
      expect(rec.ins[0]?.length).toBe(want);
      expect(rec.ins[0]?.length).toBeGreaterThanOrEqual(MIN_READ_SIZE);
    }
  });

  it('hands back the rest of a response longer than asked on the next read, without another transfer', async () => {
    const rec = recordingDevice();
    rec.answerWith('INFOhello');
    const t = await createWebUsbLink(rec.device, FASTBOOT_USB).open();
    expect(Buffer.from(await t.read(4)).toString()).toBe('INFO');
    expect(Buffer.from(await t.read(256)).toString()).toBe('hello');
    expect(rec.ins.length).toBe(1);
  });

  it('times out a silent device after 30 s by default, naming it and the bytes sent', async () => {
    expect(DEFAULT_COMMAND_TIMEOUT_MS).toBe(30_000);
    expect(DEFAULT_TIMEOUTS.commandMs).toBe(30_000);
    vi.useFakeTimers();
    const rec = recordingDevice();
    const t = await createWebUsbLink(rec.device, FASTBOOT_USB).open();
    const read = t.read(256);
    const outcome = read.then(
      () => 'answered',
      (e: unknown) => e,
    );
    await vi.advanceTimersByTimeAsync(29_900);
    expect(await Promise.race([outcome, Promise.resolve('pending')])).toBe('pending');
    await vi.advanceTimersByTimeAsync(200);
    expect(await outcome).toMatchObject({ code: 'timeout', message: expect.stringMatching(/USB device REC1 did not answer a response read within 30 s, after 0 bytes sent/) });
    expect(rec.ins[0]?.timeout).toBe(30_000);
  });
});
