// Where a USB device is plugged in: its port path (`1-2.3`), stable when it is replugged in the same socket.

/** Linux-style port path from the `usb` package's bus and port chain: bus 1, ports [2, 3] → `1-2.3`. */
export function portPath(bus: string | number | undefined, ports: readonly number[] | undefined): string | undefined {
  if (bus === undefined || bus === '') return undefined;
  const b = String(bus);
  if (b.includes('-')) return b; // already a sysfs-style path
  if (!ports || ports.length === 0) return b;
  return `${b}-${ports.join('.')}`;
}
