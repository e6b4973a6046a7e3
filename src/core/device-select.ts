// Which connected devices a many-device request or an auto-flash rule means (selector fields, `*` globs).
import type { Device } from '../protocol/messages.js';
import type { DeviceSelector } from './station-api.js';

export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

export function matchesSelector(device: Device, selector: DeviceSelector): boolean {
  if (selector.protocol !== undefined && device.protocol !== selector.protocol) return false;
  if (selector.transport !== undefined && device.transport !== selector.transport) return false;
  if (selector.state !== undefined && device.state !== selector.state) return false;
  if (selector.serial !== undefined && !globToRegExp(selector.serial).test(device.serial)) return false;
  if (selector.product !== undefined) {
    const product = device.info.product;
    if (product === undefined || !globToRegExp(selector.product).test(String(product))) return false;
  }
  return true;
}

export function describeSelector(selector: DeviceSelector): string {
  const parts = Object.entries(selector).map(([k, v]) => `${k}=${String(v)}`);
  return parts.length ? parts.join(', ') : 'any';
}
