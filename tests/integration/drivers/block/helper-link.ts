// A block link that always opens through a HelperPool, as the desktop app's does when it may not write the disk: the
// app's own link (createBlockLink) told that this process may not write (tests run as root).
import type { BlockLink } from '../../../../src/contracts/links.js';
import { createBlockLink } from '../../../../src/transports/block-io.js';
import type { HelperPool } from '../../../../src/transports/block-helper.js';

export function helperLink(p: HelperPool, dev: string): BlockLink & { path: string } {
  return createBlockLink(dev, p, () => Promise.resolve(false));
}
