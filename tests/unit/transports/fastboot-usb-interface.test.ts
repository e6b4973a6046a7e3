// Finding the fastboot interface in USB descriptors, naming the udev rule when Linux refuses access, and that rule.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findFastbootInterface } from '../../../src/transports/fastboot-usb-interface.js';
import { UDEV_RULE_PATH, isPermissionError, udevRulePath } from '../../../src/transports/usb-permissions.js';
import { createWebUsbLink, clampTransferSize } from '../../../src/transports/usb.js';
import type { UsbAlternateInterfaceLike, UsbConfigurationLike, UsbEndpointLike, WebUsbDeviceLike } from '../../../src/contracts/webusb.js';
import { FASTBOOT_USB } from '../../../src/transports/fastboot-usb-interface.js';

const root = resolve(import.meta.dirname, '../../..');

const bulk = (n: number, direction: 'in' | 'out', packetSize = 512) => ({ endpointNumber: n, direction, type: 'bulk' as const, packetSize });
const alt = (cls: number, sub: number, proto: number, endpoints: UsbEndpointLike[] = [bulk(1, 'in'), bulk(2, 'out')]): UsbAlternateInterfaceLike => ({
  alternateSetting: 0,
  interfaceClass: cls,
  interfaceSubclass: sub,
  interfaceProtocol: proto,
  endpoints,
});
const config = (value: number, alts: UsbAlternateInterfaceLike[]): UsbConfigurationLike => ({
  configurationValue: value,
  interfaces: alts.map((a, i) => ({ interfaceNumber: i, alternate: a, alternates: [a], claimed: false })),
});

function device(configs: UsbConfigurationLike[], active?: UsbConfigurationLike, open?: () => Promise<void>): WebUsbDeviceLike {
  return {
    vendorId: 0x1234,
    productId: 0x5678,
    serialNumber: 'X1',
    opened: false,
    configuration: active ?? null,
    configurations: configs,
    open: open ?? (async () => undefined),
    close: async () => undefined,
    selectConfiguration: async () => undefined,
    claimInterface: async () => undefined,
    releaseInterface: async () => undefined,
    transferIn: async () => ({ status: 'ok' }),
    transferOut: async (_e, d) => ({ status: 'ok', bytesWritten: (d as Uint8Array).byteLength }),
  };
}

describe('findFastbootInterface', () => {
  it('finds FF/42/03 on any vendor, beside other interfaces, with its bulk endpoints and packet size', () => {
    const c = config(1, [alt(0xff, 0x42, 0x01), alt(0x08, 0x06, 0x50), alt(0xff, 0x42, 0x03, [bulk(0x81 & 0x0f, 'in', 1024), bulk(1, 'out', 1024)])]);
    const f = findFastbootInterface(device([c], c));
    expect(f).toMatchObject({ configurationValue: 1, interfaceNumber: 2, inEndpoint: 1, outEndpoint: 1, inPacketSize: 1024 });
  });

  it('looks in other configurations and ignores interrupt endpoints', () => {
    const a = config(1, [alt(0x02, 0x02, 0x01)]);
    const b = config(2, [alt(0xff, 0x42, 0x03, [{ endpointNumber: 3, direction: 'in', type: 'interrupt', packetSize: 64 }, bulk(4, 'in'), bulk(5, 'out')])]);
    expect(findFastbootInterface(device([a, b], a))).toMatchObject({ configurationValue: 2, inEndpoint: 4, outEndpoint: 5 });
  });

  it('finds nothing on ADB or a DFU-only device', () => {
    const c = config(1, [alt(0xff, 0x42, 0x01), alt(0xfe, 0x01, 0x02)]);
    expect(findFastbootInterface(device([c], c))).toBeUndefined();
  });
});

describe('permissions', () => {
  it('recognises EACCES-style errors', () => {
    expect(isPermissionError(new Error('LIBUSB_ERROR_ACCESS'))).toBe(true);
    expect(isPermissionError(new Error('open error: Permission denied (os error 13)'))).toBe(true);
    expect(isPermissionError(new Error('No such device'))).toBe(false);
  });

  it('turns a permission error on open into a message naming the udev rule', async () => {
    const c = config(1, [alt(0xff, 0x42, 0x03)]);
    const link = createWebUsbLink(device([c], c, async () => Promise.reject(new Error('Permission denied (os error 13)'))), FASTBOOT_USB);
    await expect(link.open()).rejects.toMatchObject({ code: 'permission_denied', message: expect.stringContaining(UDEV_RULE_PATH) });
    // From a checkout or the npm package the path is absolute, so the sudo cp line works from any directory.
    const err = (await link.open().catch((e: unknown) => e)) as Error;
    expect(err.message).toContain(`sudo cp ${join(root, UDEV_RULE_PATH)} /etc/udev/rules.d/`);
    expect(err.message).toMatch(/udevadm control --reload && sudo udevadm trigger, then replug/);
  });

  it('names the rule where it is: the desktop app\'s resources, the CLI\'s package, or the source path', () => {
    const resources = mkdtempSync(join(tmpdir(), 'fs-res-'));
    try {
      mkdirSync(join(resources, 'udev'));
      writeFileSync(join(resources, 'udev/70-flash-station.rules'), '');
      expect(udevRulePath({ resourcesPath: resources, script: join(root, 'bin/flash-station.cjs') })).toBe(join(resources, 'udev/70-flash-station.rules'));
      expect(udevRulePath({ script: join(root, 'dist/cli.cjs') })).toBe(join(root, UDEV_RULE_PATH));
      expect(udevRulePath({ script: '/nowhere/bin/x.js', cwd: '/nowhere' })).toBe(UDEV_RULE_PATH);
      // Run through npm's node_modules/.bin link (process.argv[1] is the link, elsewhere):
      mkdirSync(join(resources, '.bin'));
      symlinkSync(join(root, 'bin/flash-station.cjs'), join(resources, '.bin/flash-station'));
      expect(udevRulePath({ script: join(resources, '.bin/flash-station'), cwd: '/nowhere' })).toBe(join(root, UDEV_RULE_PATH));
    } finally {
      rmSync(resources, { recursive: true, force: true });
    }
  });

  it('says another program holds the device when the interface is busy', async () => {
    const c = config(1, [alt(0xff, 0x42, 0x03)]);
    const link = createWebUsbLink(device([c], c, async () => Promise.reject(new Error('claim error: Device or resource busy (os error 16)'))), FASTBOOT_USB);
    await expect(link.open()).rejects.toMatchObject({ code: 'port_busy', message: expect.stringContaining('another program') });
  });

  it('clamps the transfer size to 16 KiB – 1 MiB', () => {
    expect(clampTransferSize(1)).toBe(16 * 1024);
    expect(clampTransferSize(10 * 1024 * 1024)).toBe(1024 * 1024);
    expect(clampTransferSize(undefined)).toBe(1024 * 1024);
  });
});

describe('the udev rule we ship', () => {
  const rule = readFileSync(join(root, UDEV_RULE_PATH), 'utf8');
  const lines = rule.split('\n').filter((l) => l.trim() && !l.startsWith('#'));
  /** udev's glob for ENV{ID_USB_INTERFACES}: `*` any run, `?` one character. */
  const matching = (interfaces: string): string[] =>
    lines.filter((l) => {
      const glob = /ENV\{ID_USB_INTERFACES\}=="([^"]+)"/.exec(l)?.[1];
      if (!glob) return false;
      const re = new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
      return re.test(interfaces);
    });

  it('tags whole USB devices with a fastboot (ff4203) or DFU (fe01xx) interface uaccess, on any vendor', () => {
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const l of lines) {
      expect(l).toMatch(/SUBSYSTEM=="usb"/);
      expect(l).toMatch(/ENV\{DEVTYPE\}=="usb_device"/);
      expect(l).toMatch(/TAG\+="uaccess"/);
      expect(l).not.toMatch(/idVendor|MODE="0666"/);
    }
    // ID_USB_INTERFACES lists each interface as :CCSSPP: (usb_id builtin).
    expect(matching(':ff4203:')).toHaveLength(1); // a bootloader in fastboot mode
    expect(matching(':ff4201:ff4203:')).toHaveLength(1); // adb beside fastboot (fastbootd)
    expect(matching(':0a0000:fe0101:')).toHaveLength(1); // DFU runtime
    expect(matching(':fe0102:')).toHaveLength(1); // DFU mode
    expect(matching(':ff4201:')).toHaveLength(0); // adb alone
    expect(matching(':080650:')).toHaveLength(0); // a USB stick
  });

  it('loads before systemd applies uaccess (73-seat-late.rules)', () => {
    expect(Number(/\/(\d+)-[^/]+\.rules$/.exec(UDEV_RULE_PATH)?.[1])).toBeLessThan(73);
  });
});
