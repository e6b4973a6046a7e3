// Recognises "no permission to open this USB device" errors, so they can name the udev rule we ship.

/** Where the rule lives in the source tree and in packages (docs/fastboot.md explains how to install it). */
export const UDEV_RULE_PATH = 'build/udev/70-flash-station.rules';

export function isPermissionError(e: unknown): boolean {
  const text = e instanceof Error ? `${e.name} ${e.message} ${String((e as { code?: unknown }).code ?? '')}` : String(e);
  return /EACCES|EPERM|LIBUSB_ERROR_ACCESS|permission denied|access denied|SecurityError|operation not permitted/i.test(text);
}
