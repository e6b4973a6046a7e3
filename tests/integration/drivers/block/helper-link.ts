// A block link that always opens through a HelperPool, as the desktop app's does when it may not write the disk (the
// app's own link, createBlockLink, goes to the helper only when this process may not write; tests run as root).
import type { BlockLink } from '../../../../src/contracts/links.js';
import type { HelperBlockIo, HelperPool } from '../../../../src/transports/block-helper.js';

export function helperLink(p: HelperPool, dev: string): BlockLink & { path: string } {
  const open = new Set<HelperBlockIo>();
  return {
    kind: 'block', path: dev,
    open: async (_o, signal) => {
      const io = await p.open(dev, signal);
      open.add(io);
      return io;
    },
    close: async () => {
      await Promise.all([...open].map((io) => io.close()));
    },
  };
}
