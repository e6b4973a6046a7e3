// Run by block-as-user.test.ts and block-pkexec.test.ts (bundled, then started as an unprivileged user): flashes IMAGE
// onto DEV with the block family, as a headless station would, and prints the outcome as one JSON line. With a third
// argument `desktop`, as the desktop app does: the installed helper (installedBlockHelper, as src/main/main.ts finds
// it) goes on the provider's candidate, and the family's link writes through it with pkexec.
import { createBlockFamily } from '../../../../src/drivers/block/index.js';
import { createBlockLink } from '../../../../src/transports/block-io.js';
import { installedBlockHelper } from '../../../../src/transports/block-helper.js';
import { diskAt } from '../../../../src/drivers/block/disks.js';
import { toCandidate } from '../../../../src/devices/block-provider.js';
import { openImage } from '../../../../src/images/open.js';
import { FlashError } from '../../../../src/contracts/errors.js';
import type { JobContext } from '../../../../src/contracts/family.js';

const [image, dev, mode] = process.argv.slice(2);
const logs: string[] = [];
const ctx: JobContext = {
  jobId: 'as-user', deviceId: dev ?? '', signal: new AbortController().signal,
  gate: { pass: async () => undefined }, throttle: { take: async () => undefined },
  moved: () => undefined, stage: () => undefined, log: (_l, m) => logs.push(m),
  waitForDevice: () => Promise.reject(new Error('no reboot here')),
};
try {
  if (!image || !dev) throw new Error('usage: IMAGE DEV');
  const family = createBlockFamily();
  let link = createBlockLink(dev);
  if (mode === 'desktop') {
    const helper = installedBlockHelper();
    if (!helper) throw new Error('no installed block helper (root-owned, at the path the polkit action names)');
    link = family.connect(toCandidate(await diskAt(dev), dev, helper)) as typeof link;
  }
  try {
    await family.run(link, { op: 'flash', target: { whole: true }, source: await openImage(image) }, ctx);
  } finally {
    await link.close();
  }
  process.stdout.write(`${JSON.stringify({ ok: true, uid: process.getuid?.(), logs })}\n`);
} catch (e) {
  const err = e instanceof FlashError ? e : new FlashError('internal', String(e));
  process.stdout.write(`${JSON.stringify({ ok: false, code: err.code, message: err.message, logs })}\n`);
}
