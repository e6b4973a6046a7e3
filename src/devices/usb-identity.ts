// Identity of a USB fastboot device: its port path (`1-2.3`) and an id that is unique among attached devices.

/** Linux-style port path from the `usb` package's bus and port chain: bus 1, ports [2, 3] → `1-2.3`. */
export function portPath(bus: string | number | undefined, ports: readonly number[] | undefined): string | undefined {
  if (bus === undefined || bus === '') return undefined;
  const b = String(bus);
  if (b.includes('-')) return b; // already a sysfs-style path
  if (!ports || ports.length === 0) return b;
  return `${b}-${ports.join('.')}`;
}

/**
 * The device id: its serial where it reports one that no other attached device uses, else `usb:<port path>`.
 * Factory-fresh boards often share a serial (or have none), and two attached devices never share an id.
 */
export function usbDeviceId(serial: string | null | undefined, port: string | undefined, serialsInUse: ReadonlySet<string>, fallback: string): string {
  const s = serial?.trim();
  if (s && !serialsInUse.has(s) && /^[\x21-\x7e]{1,64}$/.test(s)) return s;
  return port ? `usb:${port}` : `usb:${fallback}`;
}
