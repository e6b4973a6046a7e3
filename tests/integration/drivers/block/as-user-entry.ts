// Run by block-as-user.test.ts (bundled, then started as an unprivileged user): flashes IMAGE onto DEV with the block
// family, as a headless station would, and prints the outcome as one JSON line.
import { createBlockFamily } from '../../../../src/drivers/block/index.js';
import { createBlockLink } from '../../../../src/transports/block-io.js';
import { openImage } from '../../../../src/images/open.js';
import { FlashError } from '../../../../src/contracts/errors.js';
import type { JobContext } from '../../../../src/contracts/family.js';

const [image, dev] = process.argv.slice(2);
const logs: string[] = [];
const ctx: JobContext = {
  jobId: 'as-user', deviceId: dev ?? '', signal: new AbortController().signal,
  gate: { pass: async () => undefined }, throttle: { take: async () => undefined },
  moved: () => undefined, stage: () => undefined, log: (_l, m) => logs.push(m),
  waitForDevice: () => Promise.reject(new Error('no reboot here')),
};
try {
  if (!image || !dev) throw new Error('usage: IMAGE DEV');
  await createBlockFamily().run(createBlockLink(dev), { op: 'flash', target: { whole: true }, source: await openImage(image) }, ctx);
  process.stdout.write(`${JSON.stringify({ ok: true, uid: process.getuid?.(), logs })}\n`);
} catch (e) {
  const err = e instanceof FlashError ? e : new FlashError('internal', String(e));
  process.stdout.write(`${JSON.stringify({ ok: false, code: err.code, message: err.message, logs })}\n`);
}
